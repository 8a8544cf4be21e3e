"""Python test cases: CPython's own socket.py (and http.client, urllib, socketserver,
selectors) on sockbox, each case run by `tests/tests/python.rs` against native peers.

`cases CASE ARGS...` prints `label: value` lines the test reads.
"""

import sockbox  # first: socket.py below runs on sockbox's _socket and select

import asyncio
import errno
import http.client
import os
import select
import selectors
import socket
import socketserver
import sys
import time


def http_get(port, path):
    """http.client GET against a native HTTP server."""
    conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=10)
    conn.request("GET", path, headers={"X-Guest": "python"})
    resp = conn.getresponse()
    body = resp.read()
    print("status:", resp.status, resp.reason)
    print("type:", resp.getheader("Content-Type"))
    print("body:", body.decode())
    conn.close()


class _Upper(socketserver.StreamRequestHandler):
    def handle(self):
        for line in self.rfile:
            if line.strip() == b"bye":
                break
            self.wfile.write(line.upper())


def serve(count):
    """A socketserver TCPServer on the preopened listener: `count` requests, one at a time."""
    (listener, name), = sockbox.preopened_sockets()
    server = socketserver.TCPServer(listener.getsockname(), _Upper, bind_and_activate=False)
    server.socket.close()
    server.socket = listener
    server.timeout = 20
    for _ in range(int(count)):
        server.handle_request()
    server.server_close()
    print("served:", count, "on", name)


def asyncio_serve(count):
    """An asyncio server on the preopened listener: `count` clients served concurrently."""
    (listener, _), = sockbox.preopened_sockets()
    count = int(count)

    async def serve():
        done = asyncio.Event()
        served = 0

        async def handle(reader, writer):
            nonlocal served
            line = await reader.readline()
            writer.write(line.upper())
            await writer.drain()
            writer.close()
            await writer.wait_closed()
            served += 1
            if served == count:
                done.set()

        server = await asyncio.start_server(handle, sock=listener)
        await asyncio.wait_for(done.wait(), 20)
        server.close()
        await server.wait_closed()
        print("asyncio served:", served)

    asyncio.run(serve())


def lines(port):
    """create_connection + makefile: a line protocol with a native server."""
    with socket.create_connection(("127.0.0.1", int(port)), timeout=10) as sock:
        with sock.makefile("rw", encoding="utf-8", newline="\n") as f:
            for word in ("alpha", "beta", "gamma"):
                f.write(word + "\n")
                f.flush()
                print("reply:", f.readline().rstrip("\n"))
        print("io refs closed:", sock._io_refs == 0 and not sock._closed)


def fds(path, file_path):
    """send_fds/recv_fds with a native peer over a Unix socket."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(10)
        conn.connect(path)
        # The peer passes one end of its socketpair: talk to the peer through it.
        data, got, flags, _ = socket.recv_fds(conn, 100, 4)
        print("received:", data.decode(), len(got), "fd(s), flags", flags)
        with socket.socket(fileno=got[0]) as passed:
            print("passed family:", passed.family.name, passed.type.name)
            passed.sendall(b"hello through the passed socket")
        # Pass back one end of a socketpair of ours and a file.
        mine, theirs = socket.socketpair()
        file_fd = sockbox.open_file(file_path)
        sent = socket.send_fds(conn, [b"take these"], [theirs.fileno(), file_fd])
        print("sent:", sent)
        theirs.close()
        socket.close(file_fd)
        mine.sendall(b"hello from the guest's socketpair")
        mine.close()
        print("peer says:", conn.recv(100).decode())


def sendfile(port, path):
    """socket.sendfile (socket.py's send loop) and sockbox.sendfile (the host's sendfile(2))."""
    with socket.create_connection(("127.0.0.1", int(port)), timeout=10) as sock:
        with open(path, "rb") as f:
            print("socket.sendfile:", sock.sendfile(f))
            print("file offset:", f.tell())
        print("sockbox.sendfile:", sockbox.sendfile(sock, path))
        print("sockbox.sendfile tail:", sockbox.sendfile(sock, path, offset=10, count=5))


def denied(host, port):
    """A connect the policy refuses: PermissionError with the policy's message."""
    try:
        socket.create_connection((host, int(port)), timeout=5)
    except PermissionError as e:
        print("error:", type(e).__name__)
        print("errno is EACCES:", e.errno == errno.EACCES)
        print("message:", e.strerror)
        print("rule:", e.policy_denial.rule)
    else:
        print("error: none")


def denied_unhandled():
    """A denial nobody catches: the plugin ends with status 1 and the traceback."""
    socket.create_connection(("127.0.0.1", 9))


def timeout(port):
    """A recv on a silent peer with a timeout: TimeoutError, on time."""
    sock = socket.create_connection(("127.0.0.1", int(port)), timeout=10)
    sock.settimeout(0.3)
    start = time.monotonic()
    try:
        sock.recv(10)
    except TimeoutError as e:
        print("error:", type(e).__name__, e)
    print("waited ms:", round((time.monotonic() - start) * 1000))
    print("is socket.timeout:", socket.timeout is TimeoutError)
    sock.close()


def blocked(port):
    """A recv that waits forever, until the embedder interrupts the instance."""
    sock = socket.create_connection(("127.0.0.1", int(port)))
    print("blocking", flush=True)
    try:
        sock.recv(10)
    except OSError as e:
        print("error:", type(e).__name__, e.errno == errno.ECANCELED, e.strerror)


def bulk(port, total):
    """Large reads that wait and get fewer bytes than asked, and reads that find a backlog:
    recv(65536) and recv_into(1 MiB), as redis-py and http.client read."""
    total = int(total)
    sock = socket.create_connection(("127.0.0.1", int(port)))
    got = 0
    checksum = 0
    big = bytearray(1 << 20)
    reads = 0
    while got < total:
        if reads % 2:
            n = sock.recv_into(big)
            chunk = big[:n]
        else:
            chunk = sock.recv(65536)
        if not chunk:
            break
        reads += 1
        got += len(chunk)
        checksum = (checksum + sum(chunk)) % (1 << 32)
    print("received:", got, checksum)
    sock.close()


def refused(port):
    """connect to a closed port: ConnectionRefusedError; connect_ex gives the errno."""
    try:
        socket.create_connection(("127.0.0.1", int(port)), timeout=5)
    except ConnectionRefusedError as e:
        print("error:", type(e).__name__)
    with socket.socket() as s:
        print("connect_ex is ECONNREFUSED:", s.connect_ex(("127.0.0.1", int(port))) == errno.ECONNREFUSED)


def udp(port):
    """sendto/recvfrom with a native UDP echo peer."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(10)
        s.sendto(b"ping", ("127.0.0.1", int(port)))
        data, addr = s.recvfrom(100)
        print("echo:", data.decode(), addr == ("127.0.0.1", int(port)))


def surface():
    """The rest of the surface, in-guest: socketpair, select, selectors, options, dup, fromfd,
    detach, inet helpers, getaddrinfo, errors."""
    a, b = socket.socketpair()
    print("pair:", a.family.name, a.type.name, a.getsockname() == "")
    a.set_inheritable(True)
    print("inheritable:", b.get_inheritable(), a.get_inheritable())
    a.sendall(b"x")
    r, w, x = select.select([b], [a], [], 5)
    print("select:", r == [b], w == [a], x)
    b.recv(1)
    print("select idle:", select.select([b], [], [], 0.05))
    sel = selectors.DefaultSelector()
    sel.register(b, selectors.EVENT_READ, "b")
    a.send(b"y")
    print("selectors:", type(sel).__name__, [(k.data, ev) for k, ev in sel.select(5)])
    b.recv(1)
    sel.close()

    tcp = socket.socket()
    tcp.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    print("nodelay:", tcp.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, True)
    print("keepalive:", tcp.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE))
    print("type:", tcp.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE) == socket.SOCK_STREAM)
    try:
        tcp.setsockopt(socket.SOL_SOCKET, 25, b"eth0\0")  # SO_BINDTODEVICE
    except PermissionError:
        print("bindtodevice: PermissionError")
    print("timeout default:", tcp.gettimeout(), tcp.getblocking())
    tcp.settimeout(1.5)
    print("timeout set:", tcp.gettimeout(), tcp.getblocking())
    tcp.setblocking(False)
    print("nonblocking:", tcp.gettimeout(), tcp.getblocking())
    try:
        tcp.settimeout(-1)
    except ValueError as e:
        print("negative timeout:", e)
    tcp.close()
    print("closed fileno:", tcp.fileno(), "repr closed:", "[closed]" in repr(tcp))
    try:
        tcp.send(b"x")
    except OSError as e:
        print("use after close:", e.errno == errno.EBADF)

    c = a.dup()
    print("dup:", c.fileno() != a.fileno(), c.family == a.family)
    c.sendall(b"via dup")
    print("dup read:", b.recv(100))
    d = socket.fromfd(a.fileno(), socket.AF_UNIX, socket.SOCK_STREAM)
    fd = d.detach()
    e = socket.socket(fileno=fd)
    e.sendall(b"via detach")
    print("detach read:", b.recv(100))
    for s in (a, b, c, e):
        s.close()

    nb = socket.socket(socket.AF_INET, socket.SOCK_STREAM | socket.SOCK_NONBLOCK)
    print("SOCK_NONBLOCK:", nb.type.name, nb.getblocking())
    nb.close()

    print("aton:", socket.inet_aton("127.1").hex(), socket.inet_ntoa(b"\x7f\x00\x00\x01"))
    print("pton:", socket.inet_ntop(socket.AF_INET6, socket.inet_pton(socket.AF_INET6, "fe80:0:0:0::1")))
    print("htons:", socket.htons(1), socket.ntohl(socket.htonl(0x01020304)) == 0x01020304)
    infos = socket.getaddrinfo("::1", "80", socket.AF_INET6, socket.SOCK_STREAM)
    print("getaddrinfo:", infos[0][0].name, infos[0][1].name, infos[0][4])
    print("getnameinfo:", socket.getnameinfo(("127.0.0.1", 80), socket.NI_NUMERICHOST | socket.NI_NUMERICSERV))
    print("servbyname:", socket.getservbyname("http", "tcp"))
    try:
        socket.getaddrinfo("127.0.0.1", "no-such-service")
    except socket.gaierror as e:
        print("gaierror:", e.errno in (socket.EAI_SERVICE, socket.EAI_NONAME))
    try:
        socket.getaddrinfo("example.com", 80)
    except OSError as e:
        print("lookup denied:", type(e).__name__)
    for bad in (("127.0.0.1", 70000), ("127.0.0.1",), "127.0.0.1:80"):
        try:
            socket.socket().connect(bad)
        except (OverflowError, TypeError) as e:
            print("bad address:", type(e).__name__)
    try:
        socket.socket(socket.AF_INET, 99)
    except OSError as e:
        print("bad type:", type(e).__name__, e.errno == errno.EPROTONOSUPPORT)
    print("fds left:", len(socket._socket._fds))


def main():
    case, *args = sys.argv[1:]
    globals()[case](*args)


Run = sockbox.command(main)
