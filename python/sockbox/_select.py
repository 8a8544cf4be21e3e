"""CPython's ``select`` module (``select`` and ``poll``) for sockbox sockets.

``import sockbox`` installs this module as ``select``, so ``selectors`` (and with it
``socketserver``, ``socket.sendfile``'s waits, ...) waits on sockbox sockets. A wait is one
``wasi:io/poll`` call over the sockets' pollables (``socket.subscribe``) and a clock pollable for
the timeout. Descriptors that are not sockbox sockets (stdin, files) go to the platform's own
``select`` module, as long as they are not mixed with sockbox sockets in one call.
"""

import select as _platform

from wit_world.imports import monotonic_clock as _clock
from wit_world.imports import poll as _poll
from wit_world.imports import socket as _wit
from wit_world.imports import sockbox_socket_types as _t

from . import _socket

error = OSError

POLLIN = 0x001
POLLPRI = 0x002
POLLOUT = 0x004
POLLERR = 0x008
POLLHUP = 0x010
POLLNVAL = 0x020
POLLRDNORM = 0x040
POLLRDBAND = 0x080
POLLWRNORM = 0x100
POLLWRBAND = 0x200
POLLMSG = 0x400
POLLRDHUP = 0x2000

_READ_EVENTS = POLLIN | POLLPRI | POLLRDNORM | POLLRDBAND
_WRITE_EVENTS = POLLOUT | POLLWRNORM | POLLWRBAND


def _fileno(obj):
    if isinstance(obj, int):
        fd = obj
    else:
        try:
            fd = obj.fileno()
        except AttributeError:
            raise TypeError("argument must be an int, or have a fileno() method.") from None
        if not isinstance(fd, int):
            raise TypeError("fileno() returned a non-integer")
    if fd < 0:
        raise ValueError(f"file descriptor cannot be a negative integer ({fd})")
    return fd


def _ours(fd):
    return fd in _socket._fds


def _wait(wanted, timeout_ns):
    """Waits until one of ``wanted`` (``(socket handle, interest)`` pairs) is ready or the
    timeout passes; the indices of those that are ready."""
    pollables = [sock.subscribe(interest) for sock, interest in wanted]
    if timeout_ns is not None:
        pollables.append(_clock.subscribe_duration(timeout_ns))
    try:
        if not pollables:
            return []
        ready = _poll.poll(pollables)
        return [i for i in ready if i < len(wanted)]
    finally:
        for p in pollables:
            p.__exit__(None, None, None)


def _socket_handle(fd):
    handle = _socket._received_socket(fd)
    if not isinstance(handle, _wit.Socket):
        raise OSError(9, "Bad file descriptor")
    return handle


def _timeout_ns(seconds):
    if seconds is None:
        return None
    seconds = float(seconds)
    if seconds < 0:
        raise ValueError("timeout must be non-negative")
    return int(seconds * 1e9)


def select(rlist, wlist, xlist, timeout=None):
    """``select(rlist, wlist, xlist[, timeout])``: the objects ready to read and to write.
    Exceptional conditions are not reported (the third list comes back empty)."""
    rlist, wlist, xlist = list(rlist), list(wlist), list(xlist)
    rfds = [_fileno(o) for o in rlist]
    wfds = [_fileno(o) for o in wlist]
    xfds = [_fileno(o) for o in xlist]
    every = rfds + wfds + xfds
    ours = [_ours(fd) for fd in every]
    if not any(ours):
        # Nothing of sockbox's: the platform waits (nothing at all: it sleeps).
        return _platform.select(rlist, wlist, xlist, timeout)
    if not all(ours):
        raise OSError(22, "sockbox sockets and other descriptors cannot be selected together")
    timeout_ns = _timeout_ns(timeout)
    wanted = [(_socket_handle(fd), _t.Interest.READABLE) for fd in rfds]
    wanted += [(_socket_handle(fd), _t.Interest.WRITABLE) for fd in wfds]
    ready = set(_wait(wanted, timeout_ns))
    readable = [o for i, o in enumerate(rlist) if i in ready]
    writable = [o for i, o in enumerate(wlist) if len(rlist) + i in ready]
    return readable, writable, []


class poll:
    """``select.poll()``: a set of descriptors and the events each waits for."""

    def __init__(self):
        self._registered = {}

    def register(self, fd, eventmask=POLLIN | POLLPRI | POLLOUT):
        """Adds ``fd`` (or replaces its events)."""
        self._registered[_fileno(fd)] = eventmask & 0xFFFF

    def modify(self, fd, eventmask):
        """Changes the events of a registered ``fd``."""
        fd = _fileno(fd)
        if fd not in self._registered:
            raise FileNotFoundError(2, "No such file or directory")
        self._registered[fd] = eventmask & 0xFFFF

    def unregister(self, fd):
        """Removes ``fd``."""
        del self._registered[_fileno(fd)]

    def poll(self, timeout=None):
        """Waits up to ``timeout`` milliseconds (forever when None or negative): a list of
        ``(fd, events)``."""
        if timeout is not None:
            timeout = float(timeout)
            if timeout < 0:
                timeout = None
        fds = list(self._registered.items())
        ours = [_ours(fd) for fd, _ in fds]
        if not any(ours):
            # Nothing of sockbox's (selectors calls poll(0) on an empty set at import).
            platform = _platform.poll()
            for fd, events in fds:
                platform.register(fd, events)
            return platform.poll(timeout)
        if not all(ours):
            raise OSError(22, "sockbox sockets and other descriptors cannot be polled together")
        wanted, owners, invalid = [], [], []
        for fd, events in fds:
            try:
                handle = _socket_handle(fd)
            except OSError:
                invalid.append((fd, POLLNVAL))
                continue
            if events & _READ_EVENTS:
                wanted.append((handle, _t.Interest.READABLE))
                owners.append((fd, events & _READ_EVENTS or POLLIN))
            if events & _WRITE_EVENTS:
                wanted.append((handle, _t.Interest.WRITABLE))
                owners.append((fd, events & _WRITE_EVENTS or POLLOUT))
        if invalid:
            return invalid
        timeout_ns = None if timeout is None else int(timeout * 1e6)
        result = {}
        for i in _wait(wanted, timeout_ns):
            fd, events = owners[i]
            result[fd] = result.get(fd, 0) | events
        return list(result.items())
