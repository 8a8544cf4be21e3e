"""CPython's own ssl.py on a non-blocking socket: the handshake, a send and the reply driven
by `select`, as a program would write it for native CPython (the test runs it there too).

`tls_nonblocking PORT CA_PEM` connects to a TLS echo server on 127.0.0.1:PORT (certificate for
localhost, signed by CA_PEM; it answers late, and says nothing after the echo), sends a line and
prints what came back.
"""

try:
    import sockbox  # in a plugin, first: socket.py and ssl.py on sockbox
except ImportError:
    sockbox = None  # native CPython, for comparison

import select
import socket
import ssl
import sys


def wait(tls, error):
    """Waits the way `error` (SSLWantReadError or SSLWantWriteError) asks."""
    if isinstance(error, ssl.SSLWantWriteError):
        select.select([], [tls], [], 10)
    else:
        select.select([tls], [], [], 10)


def main():
    port, ca = int(sys.argv[1]), sys.argv[2]
    ctx = ssl.create_default_context(cadata=ca)
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    raw.setblocking(False)
    tls = ctx.wrap_socket(raw, server_hostname="localhost", do_handshake_on_connect=False)
    waits = 0
    while True:
        try:
            tls.do_handshake()
            break
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError) as e:
            waits += 1
            wait(tls, e)
    print("handshake:", tls.version(), waits > 0)
    data = b"hello over tls\n"
    while data:
        try:
            data = data[tls.send(data):]
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError) as e:
            wait(tls, e)
    line = b""
    while not line.endswith(b"\n"):
        try:
            line += tls.recv(1024)
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError) as e:
            wait(tls, e)
    print("echo:", line.decode().strip())
    try:
        tls.recv(1024)  # the server says nothing more
        print("again: no")
    except ssl.SSLWantReadError:
        print("again: SSLWantReadError")
    tls.close()


if sockbox:
    Run = sockbox.command(main)
elif __name__ == "__main__":
    main()
