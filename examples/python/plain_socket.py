"""A Python plugin on CPython's own WASI ``_socket``: no ``import sockbox``. Its sockets are
``wasi:sockets`` ones, which ``sockbox run`` serves under the same policy as sockbox's own:

    sockbox python build examples/python/plain_socket.py -o plain.wasm
    sockbox run --allow-connect localhost:7000 plain.wasm localhost 7000

It connects, sends a line, and prints what comes back; a denied address is a PermissionError.
(CPython's WASI build has no ``ssl``, ``select`` on sockets, ``socket.socketpair`` or Unix
sockets; ``import sockbox`` gives all of them.)
"""

import errno
import socket
import sys

from wit_world import exports


def main(host, port):
    try:
        with socket.create_connection((host, port), timeout=10) as s:
            s.sendall(b"hello from CPython's own _socket\n")
            print("got:", s.recv(100).decode().strip())
            print("peer:", s.getpeername()[1] == port)
    except OSError as e:
        print("error:", type(e).__name__, errno.errorcode.get(e.errno))
        print("detail:", repr(e))


class Run(exports.Run):
    def run(self) -> None:
        main(sys.argv[1], int(sys.argv[2]))
        sys.stdout.flush()
