"""Differential cases: the same file runs under native CPython and inside a sockbox guest, and
`tests/tests/python.rs` compares what each prints, line by line.

Each case prints `label: observation`, normalised so the two runs can agree: `ok` and a value
without descriptor numbers or ephemeral ports, or the exception's type and errno name. Only
loopback addresses are used, and no name is looked up but `localhost`.
"""

try:
    import sockbox  # in a guest: socket.py on sockbox's _socket
except ImportError:
    sockbox = None

import errno
import gc
import socket
import sys


def observe(value):
    if isinstance(value, float):
        return repr(round(value, 6))
    if isinstance(value, (bytes, bytearray)):
        return repr(bytes(value))
    if isinstance(value, (str, bool, type(None))):
        return repr(value)
    if isinstance(value, int):
        return repr(int(value))  # an IntEnum's value, not its repr
    if isinstance(value, tuple):
        return "(" + ", ".join(observe(v) for v in value) + ")"
    return type(value).__name__


# Names that share a number on some platform (WASI has one number for EPIPE and ESHUTDOWN):
# the name Linux gives first.
PREFERRED = ("EPIPE", "EAGAIN", "EOPNOTSUPP", "EDEADLK")


def errno_name(code):
    for name in PREFERRED:
        if getattr(errno, name, None) == code:
            return name
    return errno.errorcode.get(code, str(code))


def case(label, fn):
    try:
        got = "ok " + observe(fn())
    except Exception as e:  # noqa: BLE001 (the observation is the exception)
        code = getattr(e, "errno", None)
        if isinstance(e, socket.gaierror):
            name = str(code)
        else:
            name = errno_name(code) if isinstance(code, int) and code > 0 else ""
        got = f"{type(e).__name__} {name}".rstrip()
        # CPython's socket exceptions carry no context.
        if e.__context__ is not None:
            got += f" (context {type(e.__context__).__name__})"
    print(f"{label}: {got}", flush=True)


def fresh(*args, **kwargs):
    s = socket.socket(*args, **kwargs)
    keep.append(s)
    return s


keep = []


def main():
    global keep

    # --- Descriptors shared by two objects (socket(fileno=), socket.close(fd)).
    a = fresh()
    b = socket.socket(fileno=a.fileno())
    case("alias/timeout", lambda: b.gettimeout())
    case("alias/close-one", lambda: b.close())
    case("alias/other-gettimeout", lambda: a.gettimeout())
    case("alias/other-listen", lambda: a.listen())
    case("alias/other-getsockname", lambda: a.getsockname())
    case("alias/other-close", lambda: a.close())
    case("alias/other-close-again", lambda: a.close())
    c = socket.socket()
    socket.close(c.fileno())
    case("module-close/then-close", lambda: c.close())
    d = socket.socket()
    e = socket.socket(fileno=d.fileno())
    del e
    gc.collect()
    case("alias/after-gc-of-other", lambda: d.getsockname())
    case("alias/close-after-gc", lambda: d.close())
    case("fileno/huge", lambda: socket.socket(fileno=2**70))
    case("fileno/negative", lambda: socket.socket(fileno=-5))
    case("fileno/unknown", lambda: socket.socket(fileno=999999))
    case("fileno/str", lambda: socket.socket(fileno="3"))

    # --- Timeouts.
    s = fresh()
    case("settimeout/2**70", lambda: s.settimeout(2**70))
    case("settimeout/2**40", lambda: s.settimeout(2**40))
    case("settimeout/2**33", lambda: s.settimeout(2**33))
    case("settimeout/1e10", lambda: s.settimeout(1e10))
    case("settimeout/inf", lambda: s.settimeout(float("inf")))
    case("settimeout/nan", lambda: s.settimeout(float("nan")))
    case("settimeout/-1", lambda: s.settimeout(-1))
    case("settimeout/bytes", lambda: s.settimeout(b"1"))
    case("settimeout/str", lambda: s.settimeout("1"))
    case("settimeout/tiny", lambda: (s.settimeout(1e-12), s.gettimeout())[1] > 0)
    case("settimeout/half", lambda: (s.settimeout(0.5), s.gettimeout())[1])
    case("settimeout/half-blocking", lambda: s.getblocking())
    case("settimeout/zero-blocking", lambda: (s.settimeout(0), s.getblocking())[1])
    case("setblocking/true", lambda: (s.setblocking(True), s.gettimeout())[1])
    case("setdefaulttimeout/2**40", lambda: socket.setdefaulttimeout(2**40))
    case("setdefaulttimeout/-1", lambda: socket.setdefaulttimeout(-1))
    socket.setdefaulttimeout(2.5)
    f = fresh()
    g = socket.socket(fileno=f.fileno())
    case("default/new", lambda: f.gettimeout())
    case("default/fileno-object", lambda: g.gettimeout())
    g.settimeout(7)
    case("default/own-timeout", lambda: f.gettimeout())
    g.detach()
    socket.setdefaulttimeout(None)
    case("default/reset", lambda: fresh().gettimeout())

    # --- Numbers out of C's ranges.
    s = fresh()
    case("listen/2**40", lambda: s.listen(2**40))
    case("shutdown/2**40", lambda: s.shutdown(2**40))
    case("shutdown/5", lambda: s.shutdown(5))
    case("recv/-1", lambda: s.recv(-1))
    case("recv/2**70", lambda: s.recv(2**70))
    case("recv/str", lambda: s.recv("1"))
    case("recvfrom/2**70", lambda: s.recvfrom(2**70))
    case("recvmsg/2**70", lambda: s.recvmsg(2**70))
    case("recvmsg/-1", lambda: s.recvmsg(-1))
    case("getsockopt/buflen-2**40", lambda: s.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 2**40))
    case("getsockopt/buflen-2000", lambda: s.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 2000))
    case("setsockopt/value-2**70", lambda: s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 2**70))
    case("setsockopt/level-2**40", lambda: s.setsockopt(2**40, socket.SO_REUSEADDR, 1))
    case("setsockopt/reuseaddr", lambda: (s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1), s.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR))[1])
    case("socket/family-2**40", lambda: socket.socket(2**40))
    case("socket/proto-2**40", lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM, 2**40))
    case("socket/family-bad", lambda: socket.socket(12345))
    case("htons/2**40", lambda: socket.htons(2**40))
    case("htons/-1", lambda: socket.htons(-1))
    case("htonl/2**32", lambda: socket.htonl(2**32))
    case("htons/1", lambda: socket.htons(1))
    case("getservbyport/2**40", lambda: socket.getservbyport(2**40))
    case("getservbyport/-1", lambda: socket.getservbyport(-1))
    case("getaddrinfo/proto-2**40", lambda: socket.getaddrinfo("127.0.0.1", 80, 0, 0, 2**40))
    case("getaddrinfo/flags-2**40", lambda: socket.getaddrinfo("127.0.0.1", 80, 0, 0, 0, 2**40))
    case("getnameinfo/flags-2**40", lambda: socket.getnameinfo(("127.0.0.1", 80), 2**40))
    case("CMSG_LEN/2**70", lambda: socket.CMSG_LEN(2**70))
    case("CMSG_LEN/-1", lambda: socket.CMSG_LEN(-1))
    case("CMSG_LEN/0", lambda: socket.CMSG_LEN(0))
    case("CMSG_SPACE/2**63", lambda: socket.CMSG_SPACE(2**63))
    case("CMSG_SPACE/4", lambda: socket.CMSG_SPACE(4))

    # --- IPv6 address tuples.
    s6 = fresh(socket.AF_INET6)
    case("bind6/flowinfo-2**20", lambda: s6.bind(("::1", 0, 2**20, 0)))
    case("bind6/flowinfo-neg", lambda: s6.bind(("::1", 0, -1, 0)))
    case("bind6/port-70000", lambda: s6.bind(("::1", 70000)))
    case("bind6/scope-neg", lambda: s6.bind(("::1", 0, 0, -1)))
    case("bind6/sockname", lambda: s6.getsockname()[0])
    u = fresh(socket.AF_INET, socket.SOCK_DGRAM)
    case("sendto/port-neg", lambda: u.sendto(b"x", ("127.0.0.1", -1)))
    case("sendto/port-70000", lambda: u.sendto(b"x", ("127.0.0.1", 70000)))
    case("sendto/not-tuple", lambda: u.sendto(b"x", "127.0.0.1"))

    # --- Text that cannot cross into C (lone surrogates, NUL).
    case("getaddrinfo/surrogate-port", lambda: socket.getaddrinfo("localhost", "\ud800"))
    case("getaddrinfo/surrogate-host", lambda: socket.getaddrinfo("\ud800", 80))
    case("getaddrinfo/nul-host", lambda: socket.getaddrinfo("localhost\0.invalid", 80)[0][4])
    case("gethostbyname/surrogate", lambda: socket.gethostbyname("\ud800"))
    case("getservbyname/surrogate", lambda: socket.getservbyname("\ud800"))
    case("getservbyname/proto-surrogate", lambda: socket.getservbyname("http", "\ud800"))
    case("getprotobyname/surrogate", lambda: socket.getprotobyname("\ud800"))
    case("if_nametoindex/surrogate", lambda: socket.if_nametoindex("\ud800"))
    case("connect/surrogate-host", lambda: fresh().connect(("\ud800", 80)))

    # --- Buffers.
    p, q = socket.socketpair()
    keep.extend([p, q])
    p.sendall(b"hello")
    case("recv_into/read-only", lambda: q.recv_into(b"....."))
    case("recvfrom_into/read-only", lambda: q.recvfrom_into(b"....."))
    case("recvmsg_into/read-only", lambda: q.recvmsg_into([b"....."]))
    case("recv_into/data-kept", lambda: q.recv(5))
    buf = bytearray(3)
    p.sendall(b"abcdef")
    case("recv_into/nbytes-too-big", lambda: q.recv_into(buf, 10))
    case("recv_into/fits", lambda: (q.recv_into(buf), bytes(buf))[1])
    case("recv_into/rest", lambda: q.recv(10))

    # --- Options the kernel reports, and flags.
    lst = fresh()
    lst.bind(("127.0.0.1", 0))
    lst.listen()
    case("getsockopt/SO_ACCEPTCONN-listening", lambda: lst.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN))
    case("getsockopt/SO_ACCEPTCONN-not", lambda: fresh().getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN))
    case("getsockopt/SO_DOMAIN", lambda: fresh(socket.AF_INET6).getsockopt(socket.SOL_SOCKET, socket.SO_DOMAIN))
    case("getsockopt/SO_PROTOCOL", lambda: fresh().getsockopt(socket.SOL_SOCKET, socket.SO_PROTOCOL))
    case("getsockopt/SO_TYPE", lambda: fresh(type=socket.SOCK_DGRAM).getsockopt(socket.SOL_SOCKET, socket.SO_TYPE))
    case("fileno/proto-detected", lambda: socket.socket(fileno=fresh(socket.AF_INET, socket.SOCK_DGRAM).detach()).proto)
    case("fileno/family-detected", lambda: socket.socket(fileno=fresh(socket.AF_INET6).detach()).family)
    w, r = socket.socketpair()
    keep.extend([w, r])
    r.settimeout(0.2)
    case("recv/dontwait-with-timeout", lambda: r.recv(10, socket.MSG_DONTWAIT))
    case("recv/dontwait-timeout-kept", lambda: r.gettimeout())
    w.sendall(b"x")
    case("recvmsg/no-ancillary-room", lambda: r.recvmsg(10)[0:3])
    passed = fresh()
    socket.send_fds(w, [b"fd"], [passed.fileno()])
    case("recvmsg/fd-without-room", lambda: r.recvmsg(10)[0:3])
    socket.send_fds(w, [b"fd"], [passed.fileno()])
    case("recvmsg/fd-with-room", lambda: len(r.recvmsg(10, socket.CMSG_SPACE(4))[1]))

    # --- Lookups of numbers and of localhost.
    case("getaddrinfo/v4-on-inet6", lambda: socket.getaddrinfo("127.0.0.1", 80, socket.AF_INET6))
    case("gethostbyname/v6", lambda: socket.gethostbyname("::1"))
    case("gethostbyname/localhost", lambda: socket.gethostbyname("localhost"))
    case("getaddrinfo/numeric-serv", lambda: socket.getaddrinfo("127.0.0.1", "http", flags=socket.AI_NUMERICSERV))
    case("getaddrinfo/no-host-no-port", lambda: socket.getaddrinfo(None, None))
    stream = socket.SOCK_STREAM
    for host in ("127.1", "0x7f.1", "0177.0.0.1", "2130706433"):
        case(f"numeric/getaddrinfo-{host}", lambda: socket.getaddrinfo(host, 80, 0, stream)[0][4])
    for host in ("::1%1", "fe80::1%lo", "ff02::1%1"):
        case(f"numeric/getaddrinfo-{host}", lambda: socket.getaddrinfo(host, 80, 0, stream)[0][4])
    case("numeric/gethostbyname-127.1", lambda: socket.gethostbyname("127.1"))
    rx = fresh(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(5)
    tx = fresh(socket.AF_INET, socket.SOCK_DGRAM)
    case("numeric/sendto-127.1", lambda: (tx.sendto(b"short form", ("127.1", rx.getsockname()[1])), rx.recv(100))[1])
    case("inet_aton/short", lambda: socket.inet_aton("127.1"))
    case("inet_aton/hex", lambda: socket.inet_aton("0x7f.0.0.1"))
    case("inet_pton/bad", lambda: socket.inet_pton(socket.AF_INET, "1.2.3"))

    # --- A TCP connection on loopback: the everyday calls.
    srv = fresh()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    srv.settimeout(5)
    cli = fresh()
    cli.settimeout(5)
    case("tcp/connect_ex", lambda: cli.connect_ex(srv.getsockname()))
    conn, peer = srv.accept()
    keep.append(conn)
    case("tcp/accept-peer-host", lambda: peer[0])
    case("tcp/accepted-timeout", lambda: conn.gettimeout())
    case("tcp/accepted-blocking", lambda: conn.getblocking())
    case("tcp/peername-host", lambda: cli.getpeername()[0])
    case("tcp/family-type", lambda: (int(conn.family), int(conn.type), conn.proto))
    case("tcp/sendall", lambda: cli.sendall(b"line one\nline two\n"))
    reader = conn.makefile("rb")
    keep.append(reader)
    case("tcp/makefile-readline", lambda: reader.readline())
    case("tcp/makefile-readline-2", lambda: reader.readline())
    case("tcp/send-returns", lambda: cli.send(b"abc"))
    case("tcp/recv-peek", lambda: conn.recv(10, socket.MSG_PEEK))
    case("tcp/recv-waitall", lambda: conn.recv(3, socket.MSG_WAITALL))
    case("tcp/recv-nonblocking-empty", lambda: (conn.setblocking(False), conn.recv(10))[1])
    conn.setblocking(True)
    conn.settimeout(0.2)
    case("tcp/recv-timeout", lambda: conn.recv(10))
    case("tcp/shutdown-wr", lambda: cli.shutdown(socket.SHUT_WR))
    case("tcp/recv-eof", lambda: conn.recv(10))
    case("tcp/send-after-shutdown", lambda: cli.send(b"x"))
    case("tcp/sockopt-nodelay", lambda: (cli.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1), bool(cli.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)))[1])
    case("tcp/sockopt-keepalive", lambda: (cli.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1), bool(cli.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)))[1])
    case("tcp/sockopt-error", lambda: cli.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR))
    case("tcp/sockopt-linger-bytes", lambda: len(cli.getsockopt(socket.SOL_SOCKET, socket.SO_LINGER, 8)))
    dup = cli.dup()
    keep.append(dup)
    case("tcp/dup-timeout", lambda: dup.gettimeout())
    case("tcp/dup-peer-host", lambda: dup.getpeername()[0])
    case("tcp/connect-again", lambda: cli.connect(srv.getsockname()))
    case("tcp/bind-twice", lambda: srv.bind(("127.0.0.1", 0)))
    case("tcp/listen-twice", lambda: srv.listen())
    refused = fresh()
    port = srv.getsockname()[1]
    srv.close()
    case("tcp/connect-refused", lambda: refused.connect(("127.0.0.1", port)))
    case("tcp/connect_ex-refused", lambda: errno.errorcode.get(fresh().connect_ex(("127.0.0.1", port))))
    case("tcp/closed-fileno", lambda: srv.fileno())
    case("tcp/closed-recv", lambda: srv.recv(1))

    # --- UDP.
    u1 = fresh(socket.AF_INET, socket.SOCK_DGRAM)
    u1.bind(("127.0.0.1", 0))
    u1.settimeout(5)
    u2 = fresh(socket.AF_INET, socket.SOCK_DGRAM)
    u2.bind(("127.0.0.1", 0))
    case("udp/sendto", lambda: u2.sendto(b"datagram", u1.getsockname()))
    case("udp/recvfrom-trunc", lambda: (lambda d, a: (d, a[0]))(*u1.recvfrom(4)))
    u2.sendto(b"datagram", u1.getsockname())
    case("udp/recvmsg-trunc-flag", lambda: u1.recvmsg(4)[2] & socket.MSG_TRUNC)
    case("udp/connect", lambda: u2.connect(u1.getsockname()))
    case("udp/send-connected", lambda: u2.send(b"hi"))
    case("udp/recv", lambda: u1.recv(10))
    buf = bytearray(10)
    u2.send(b"into")
    case("udp/recvfrom_into", lambda: u1.recvfrom_into(buf)[0])
    case("udp/empty-datagram", lambda: (u2.send(b""), u1.recv(10))[1])

    # --- Lookups of services and protocols (local databases), and pure helpers.
    case("getservbyname/http", lambda: socket.getservbyname("http", "tcp"))
    case("getservbyname/unknown", lambda: socket.getservbyname("no-such-service"))
    case("getservbyport/80", lambda: socket.getservbyport(80, "tcp"))
    case("getprotobyname/tcp", lambda: socket.getprotobyname("tcp"))
    case("getprotobyname/unknown", lambda: socket.getprotobyname("no-such-proto"))
    case("inet_ntop/v6", lambda: socket.inet_ntop(socket.AF_INET6, b"\0" * 15 + b"\1"))
    case("inet_ntop/short", lambda: socket.inet_ntop(socket.AF_INET, b"\0"))
    case("inet_pton/v6-mapped", lambda: socket.inet_pton(socket.AF_INET6, "::ffff:1.2.3.4"))
    case("inet_ntoa/bad", lambda: socket.inet_ntoa(b"\0\0"))
    case("ntohl/1", lambda: socket.ntohl(1))
    case("getnameinfo/numeric", lambda: socket.getnameinfo(("127.0.0.1", 80), socket.NI_NUMERICHOST | socket.NI_NUMERICSERV))
    case("getaddrinfo/passive", lambda: socket.getaddrinfo(None, 80, socket.AF_INET, socket.SOCK_STREAM, 0, socket.AI_PASSIVE)[0][4])
    case("getaddrinfo/v6-numeric", lambda: socket.getaddrinfo("::1", "80", socket.AF_INET6, socket.SOCK_DGRAM)[0][4])

    # --- The module's names: every constant CPython defines on Linux, with Linux's value
    # (errno names excepted: WASI's errno numbers are not Linux's).
    for name in sorted(dir(socket)):
        value = getattr(socket, name)
        if name.isupper() and isinstance(value, int) and name not in ("EAGAIN", "EBADF", "EWOULDBLOCK"):
            print(f"constant/{name}: {int(value)}")
    case("module/gaierror", lambda: socket.gaierror.__module__)
    case("module/herror", lambda: socket.herror.__module__)
    case("module/timeout-is-TimeoutError", lambda: socket.timeout is TimeoutError)

    print("survived: yes", flush=True)


if sockbox is not None:
    Run = sockbox.command(main)
elif __name__ == "__main__":
    main()
