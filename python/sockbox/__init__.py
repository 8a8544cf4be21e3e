"""sockbox for Python plugins: CPython's ``socket`` module on sockbox, under the host's policy.

Import it before anything that uses sockets::

    import sockbox          # from here on, `_socket` and `select` are sockbox's
    import socket, http.client

    def main():
        ...

    Run = sockbox.command(main)   # what `sockbox run` calls (the wasi:cli/run export)

Build the plugin with componentize-py against the WIT's ``sockbox:socket/plugin`` world, with
this directory on the path (``-p python``); see the README.

Beyond socket.py, this package has what only sockbox offers a Python guest: ``open_file`` (a
descriptor for a file, to pass with ``socket.send_fds``), ``sendfile`` (zero-copy, in the host)
and ``preopened_sockets`` (the sockets ``sockbox run --listen`` opened).
"""

import errno as _errno
import importlib as _importlib
import os as _os
import sys as _sys
import traceback as _traceback

# componentize-py runs this at build time and snapshots the result: a module first imported
# later, while the plugin runs, is not there to import. So everything is imported here.
from componentize_py_types import Err as _Err
from wit_world import exports as _exports
from wit_world.imports import sockbox_socket_preopens as _preopens
from wit_world.imports import wasi_filesystem_preopens as _fs_preopens
from wit_world.imports import wasi_filesystem_types as _fs

from . import _select, _socket, _ssl

__all__ = [
    "command", "install", "open_file", "preopened_sockets", "sendfile", "start",
    "use_tls_credential",
]

_platform_inheritable = (_os.get_inheritable, _os.set_inheritable)


def _get_inheritable(fd):
    handle = _socket._fds.get(fd)
    if handle is None:
        return _platform_inheritable[0](fd)
    return _socket._call(_socket._received_socket(fd).get_inheritable)


def _set_inheritable(fd, inheritable):
    handle = _socket._fds.get(fd)
    if handle is None:
        return _platform_inheritable[1](fd, inheritable)
    _socket._call(_socket._received_socket(fd).set_inheritable, bool(inheritable))


def install():
    """Makes sockbox's modules the ``_socket`` and ``select`` every import sees (``import
    sockbox`` already did this). Modules imported before on the platform's ``_socket`` are
    loaded again."""
    _sys.modules["_socket"] = _socket
    _sys.modules["select"] = _select
    _sys.modules["_ssl"] = _ssl
    # socket.py's get_inheritable/set_inheritable go through os with the descriptor number.
    _os.get_inheritable = _get_inheritable
    _os.set_inheritable = _set_inheritable
    # Loaded now, on sockbox, so they are in componentize-py's snapshot (see above); loaded
    # again if something imported them on the platform's `_socket` first.
    for name in ("selectors", "socket", "ssl"):
        module = _sys.modules.get(name)
        if module is not None:
            _importlib.reload(module)
        else:
            _importlib.import_module(name)


def command(main):
    """The ``Run`` class componentize-py exports for a command plugin: it calls ``main()``.

    An exception ends the plugin with status 1 after printing its traceback; ``SystemExit``
    with a status other than 0 (or None) also ends it with status 1 (WASI's exit carries only
    success or failure).
    """

    class Run(_exports.Run):
        def run(self):
            start()
            try:
                main()
            except SystemExit as e:
                if e.code not in (None, 0):
                    if not isinstance(e.code, int):
                        print(e.code, file=_sys.stderr)
                    _flush()
                    raise _Err(None) from None
            except BaseException:
                _traceback.print_exc()
                _flush()
                raise _Err(None) from None
            _flush()

    # componentize-py finds the export by the class's module and name.
    Run.__module__ = main.__module__
    Run.__qualname__ = "Run"
    return Run


def start():
    """Lets socket calls reach the host. ``command``'s export does this first; a plugin with
    exports of its own calls it at the start of each. Before it (while componentize-py builds
    the plugin and runs its imports), socket calls fail with ENETDOWN, as with no network."""
    _socket._start()
    _asyncio_without_threads()


def _asyncio_without_threads():
    """asyncio runs blocking work (name lookups: ``open_connection("example.com", ...)``,
    ``loop.getaddrinfo``; ``run_in_executor(None, f)``) in a thread pool, and a guest has no
    threads. With asyncio loaded, an event loop's default executor runs the function at once,
    on the loop's thread: a lookup then waits as a blocking ``socket.getaddrinfo`` does (the
    host still bounds it by the instance's interrupt)."""
    base_events = _sys.modules.get("asyncio.base_events")
    if base_events is None or getattr(base_events.BaseEventLoop, "_sockbox_inline", False):
        return
    import concurrent.futures as futures  # asyncio loaded it

    class InlineExecutor(futures.Executor):
        def submit(self, fn, /, *args, **kwargs):
            future = futures.Future()
            try:
                future.set_result(fn(*args, **kwargs))
            except BaseException as e:
                future.set_exception(e)
            return future

    run_in_executor = base_events.BaseEventLoop.run_in_executor

    def inline_run_in_executor(self, executor, func, *args):
        if executor is None and self._default_executor is None:
            self._default_executor = InlineExecutor()
        return run_in_executor(self, executor, func, *args)

    shutdown_default_executor = base_events.BaseEventLoop.shutdown_default_executor

    async def inline_shutdown_default_executor(self, *args, **kwargs):
        # asyncio.run ends by shutting the pool down in a thread; this one has none.
        if isinstance(self._default_executor, InlineExecutor):
            self._executor_shutdown_called = True
            self._default_executor = None
            return
        await shutdown_default_executor(self, *args, **kwargs)

    base_events.BaseEventLoop.run_in_executor = inline_run_in_executor
    base_events.BaseEventLoop.shutdown_default_executor = inline_shutdown_default_executor
    base_events.BaseEventLoop._sockbox_inline = True


def _flush():
    for stream in (_sys.stdout, _sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass


def _preopened_directory(path):
    """The wasi preopened directory holding ``path`` and the path inside it."""
    path = _os.path.abspath(_os.fspath(path))
    best = None
    for descriptor, guest in _fs_preopens.get_directories():
        root = guest.rstrip("/") or "/"
        inside = path == root or path.startswith(root if root.endswith("/") else root + "/")
        if inside and (best is None or len(root) > len(best[1])):
            best = (descriptor, root)
    if best is None:
        raise FileNotFoundError(_errno.ENOENT, "No such file or directory (not in a preopened directory)", path)
    descriptor, root = best
    relative = path[len(root) :].lstrip("/") or "."
    return descriptor, relative


# wasi:filesystem error codes that have a Python exception of their own.
_FS_ERRNO = {
    "ACCESS": "EACCES",
    "NOT_PERMITTED": "EPERM",
    "NO_ENTRY": "ENOENT",
    "IS_DIRECTORY": "EISDIR",
    "NOT_DIRECTORY": "ENOTDIR",
    "LOOP": "ELOOP",
    "NAME_TOO_LONG": "ENAMETOOLONG",
}


def open_file(path):
    """Opens a file for reading and returns a descriptor number for it, one that
    ``socket.send_fds`` can pass and ``sendfile`` can send; close it with ``socket.close``."""
    directory, relative = _preopened_directory(path)
    try:
        file = directory.open_at(
            _fs.PathFlags.SYMLINK_FOLLOW, relative, _fs.OpenFlags(0), _fs.DescriptorFlags.READ
        )
    except _Err as e:
        name = getattr(e.value, "name", "")
        code = getattr(_errno, _FS_ERRNO.get(name, ""), None)
        message = name.lower().replace("_", " ") or str(e.value)
        raise (OSError(code, message, path) if code else OSError(f"{path}: {message}")) from None
    return _socket._register(file)


def sendfile(sock, file, offset=0, count=None):
    """Sends a file over a connected stream socket with the host's zero-copy sendfile(2):
    ``file`` is a path or a descriptor from ``open_file``. Returns the bytes sent; honours the
    socket's timeout. (``socket.sendfile`` works too, by reading and sending in the guest.)"""
    handle = _socket._received_socket(sock.fileno())
    opened = None
    if isinstance(file, int):
        descriptor = _socket._lookup(file)
    else:
        opened = open_file(file)
        descriptor = _socket._lookup(opened)
    try:
        return _socket._call(handle.sendfile, descriptor, offset, count)
    finally:
        if opened is not None:
            _socket.close(opened)


def preopened_sockets():
    """The sockets the embedder opened for this plugin (``sockbox run --listen ADDR``), as
    ``[(socket.socket, name)]``, the name being the bound address such as ``127.0.0.1:8080``."""
    import socket  # loaded already: install() ran when this package was imported

    return [
        (socket.socket(fileno=_socket._register(handle)), name)
        for handle, name in _socket._call(_preopens.get_sockets)
    ]


install()


def use_tls_credential(context, name):
    """Makes ``context`` (an ``ssl.SSLContext`` for a server) serve with the certificate and
    key the host configured under ``name`` (``sockbox run --tls-credential NAME=CERT,KEY``):
    the private key never enters the plugin."""
    context._use_credential(name)
