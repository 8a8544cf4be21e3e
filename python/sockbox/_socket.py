"""CPython's C ``_socket`` module, written over the sockbox WIT bindings.

``import sockbox`` installs this module as ``_socket``, so CPython's own ``Lib/socket.py`` and
everything built on it run on sockbox unchanged. Numbers are Linux's (``AF_INET6`` is 10,
``SOL_SOCKET`` is 1), the numbers the host's raw ``setsockopt`` takes.

Descriptor numbers are the guest's own: ``fileno()`` indexes a table in this module that holds
the host's socket handles, received descriptors and files opened for passing. Host descriptor
numbers never reach the guest.
"""

import array as _array
import errno as _errno
import os as _os
import warnings as _warnings

from componentize_py_types import Err as _Err
from wit_world.imports import helpers as _helpers
from wit_world.imports import netdb as _netdb
from wit_world.imports import socket as _wit
from wit_world.imports import sockbox_socket_types as _t

# ---------------------------------------------------------------------------------------------
# Constants (Linux values): the ones this module uses below, then every other name CPython
# defines on Linux.

from ._constants import LINUX as _LINUX

globals().update(_LINUX)

AF_UNSPEC = 0
AF_UNIX = 1
AF_INET = 2
AF_INET6 = 10

SOCK_STREAM = 1
SOCK_DGRAM = 2
SOCK_RAW = 3
SOCK_SEQPACKET = 5
SOCK_NONBLOCK = 0o4000
SOCK_CLOEXEC = 0o2000000

MSG_OOB = 0x1
MSG_PEEK = 0x2
MSG_DONTROUTE = 0x4
MSG_CTRUNC = 0x8
MSG_TRUNC = 0x20
MSG_DONTWAIT = 0x40
MSG_EOR = 0x80
MSG_WAITALL = 0x100
MSG_NOSIGNAL = 0x4000
MSG_CMSG_CLOEXEC = 0x40000000

SOL_SOCKET = 1
SO_DEBUG = 1
SO_REUSEADDR = 2
SO_TYPE = 3
SO_ERROR = 4
SO_DONTROUTE = 5
SO_BROADCAST = 6
SO_SNDBUF = 7
SO_RCVBUF = 8
SO_KEEPALIVE = 9
SO_OOBINLINE = 10
SO_LINGER = 13
SO_REUSEPORT = 15
SO_PEERCRED = 17
SO_RCVLOWAT = 18
SO_SNDLOWAT = 19
SO_ACCEPTCONN = 30
SO_PROTOCOL = 38
SO_DOMAIN = 39
SCM_RIGHTS = 1
SCM_CREDENTIALS = 2
SOMAXCONN = 4096

IPPROTO_IP = 0
IPPROTO_ICMP = 1
IPPROTO_TCP = 6
IPPROTO_UDP = 17
IPPROTO_IPV6 = 41
IPPROTO_ICMPV6 = 58
IPPROTO_RAW = 255

TCP_NODELAY = 1
TCP_MAXSEG = 2
TCP_CORK = 3
TCP_KEEPIDLE = 4
TCP_KEEPINTVL = 5
TCP_KEEPCNT = 6
TCP_QUICKACK = 12
TCP_USER_TIMEOUT = 18

IP_TOS = 1
IP_TTL = 2
IP_MULTICAST_IF = 32
IP_MULTICAST_TTL = 33
IP_MULTICAST_LOOP = 34
IP_ADD_MEMBERSHIP = 35
IP_DROP_MEMBERSHIP = 36

IPV6_UNICAST_HOPS = 16
IPV6_MULTICAST_IF = 17
IPV6_MULTICAST_HOPS = 18
IPV6_MULTICAST_LOOP = 19
IPV6_JOIN_GROUP = 20
IPV6_LEAVE_GROUP = 21
IPV6_V6ONLY = 26

SHUT_RD = 0
SHUT_WR = 1
SHUT_RDWR = 2

AI_PASSIVE = 0x1
AI_CANONNAME = 0x2
AI_NUMERICHOST = 0x4
AI_V4MAPPED = 0x8
AI_ALL = 0x10
AI_ADDRCONFIG = 0x20
AI_NUMERICSERV = 0x400

NI_NUMERICHOST = 1
NI_NUMERICSERV = 2
NI_NOFQDN = 4
NI_NAMEREQD = 8
NI_DGRAM = 16
NI_MAXHOST = 1025
NI_MAXSERV = 32

EAI_BADFLAGS = -1
EAI_NONAME = -2
EAI_AGAIN = -3
EAI_FAIL = -4
EAI_NODATA = -5
EAI_FAMILY = -6
EAI_SOCKTYPE = -7
EAI_SERVICE = -8
EAI_ADDRFAMILY = -9
EAI_MEMORY = -10
EAI_SYSTEM = -11
EAI_OVERFLOW = -12

INADDR_ANY = 0
INADDR_BROADCAST = 0xFFFFFFFF
INADDR_LOOPBACK = 0x7F000001
INADDR_NONE = 0xFFFFFFFF

has_ipv6 = True

# ---------------------------------------------------------------------------------------------
# Exceptions.

error = OSError
timeout = TimeoutError


class herror(OSError):
    """An error of the old resolver API (``gethostbyaddr``): ``(h_errno, message)``."""


class gaierror(OSError):
    """A ``getaddrinfo``/``getnameinfo`` failure: ``(EAI_* number, message)``."""


# CPython's exceptions say they come from socket (its C module names them so).
herror.__module__ = gaierror.__module__ = "socket"


_ERRNO = {
    _t.Errno.ACCESS: "EACCES",
    _t.Errno.ADDR_IN_USE: "EADDRINUSE",
    _t.Errno.ADDR_NOT_AVAILABLE: "EADDRNOTAVAIL",
    _t.Errno.ADDRESS_FAMILY_NOT_SUPPORTED: "EAFNOSUPPORT",
    _t.Errno.AGAIN: "EAGAIN",
    _t.Errno.ALREADY: "EALREADY",
    _t.Errno.BAD_DESCRIPTOR: "EBADF",
    _t.Errno.CANCELED: "ECANCELED",
    _t.Errno.CONN_ABORTED: "ECONNABORTED",
    _t.Errno.CONN_REFUSED: "ECONNREFUSED",
    _t.Errno.CONN_RESET: "ECONNRESET",
    _t.Errno.DEST_ADDR_REQUIRED: "EDESTADDRREQ",
    _t.Errno.EXISTS: "EEXIST",
    _t.Errno.HOST_UNREACHABLE: "EHOSTUNREACH",
    _t.Errno.IN_PROGRESS: "EINPROGRESS",
    _t.Errno.INTERRUPTED: "EINTR",
    _t.Errno.INVALID: "EINVAL",
    _t.Errno.IO: "EIO",
    _t.Errno.IS_CONN: "EISCONN",
    _t.Errno.MSG_SIZE: "EMSGSIZE",
    _t.Errno.NAME_TOO_LONG: "ENAMETOOLONG",
    _t.Errno.NET_DOWN: "ENETDOWN",
    _t.Errno.NET_RESET: "ENETRESET",
    _t.Errno.NET_UNREACHABLE: "ENETUNREACH",
    _t.Errno.NO_BUFFER_SPACE: "ENOBUFS",
    _t.Errno.NO_ENTRY: "ENOENT",
    _t.Errno.NO_MEMORY: "ENOMEM",
    _t.Errno.NO_PROTOCOL_OPTION: "ENOPROTOOPT",
    _t.Errno.NOT_CONN: "ENOTCONN",
    _t.Errno.NOT_SOCK: "ENOTSOCK",
    _t.Errno.NOT_SUPPORTED: "EOPNOTSUPP",
    _t.Errno.PERMISSION: "EPERM",
    _t.Errno.PIPE: "EPIPE",
    _t.Errno.PROTOCOL_NOT_SUPPORTED: "EPROTONOSUPPORT",
    _t.Errno.PROTOCOL_TYPE: "EPROTOTYPE",
    _t.Errno.SOCKET_TYPE_NOT_SUPPORTED: "ESOCKTNOSUPPORT",
    _t.Errno.TIMED_OUT: "ETIMEDOUT",
    _t.Errno.TOO_MANY_OPEN: "EMFILE",
    _t.Errno.TOO_MANY_OPEN_SYSTEM: "ENFILE",
}
# WASI has no ESOCKTNOSUPPORT: the nearest it has stands in.
_ERRNO_STAND_IN = {"ESOCKTNOSUPPORT": "EPROTONOSUPPORT"}
# The WIT's errno names as this platform numbers them (WASI's numbers, not Linux's).
_ERRNO = {k: getattr(_errno, v, None) or getattr(_errno, _ERRNO_STAND_IN.get(v, v), None) for k, v in _ERRNO.items()}

_EAI = {
    _t.GaiCode.ADDRESS_FAMILY: EAI_ADDRFAMILY,
    _t.GaiCode.AGAIN: EAI_AGAIN,
    _t.GaiCode.BAD_FLAGS: EAI_BADFLAGS,
    _t.GaiCode.FAIL: EAI_FAIL,
    _t.GaiCode.FAMILY: EAI_FAMILY,
    _t.GaiCode.MEMORY: EAI_MEMORY,
    _t.GaiCode.NO_DATA: EAI_NODATA,
    _t.GaiCode.NO_NAME: EAI_NONAME,
    _t.GaiCode.SERVICE: EAI_SERVICE,
    _t.GaiCode.SOCKTYPE: EAI_SOCKTYPE,
    _t.GaiCode.SYSTEM: EAI_SYSTEM,
    _t.GaiCode.OVERFLOW: EAI_OVERFLOW,
}
_H_ERRNO = {
    _t.HCode.HOST_NOT_FOUND: 1,
    _t.HCode.TRY_AGAIN: 2,
    _t.HCode.NO_RECOVERY: 3,
    _t.HCode.NO_DATA: 4,
}


def _exception(e):
    """The Python exception for a sockbox ``error`` value."""
    if isinstance(e, _t.Error_Os):
        code = _ERRNO.get(e.value.code)
        if code is None:
            return OSError(e.value.message)
        return OSError(code, e.value.message)
    if isinstance(e, _t.Error_Timeout):
        return TimeoutError("timed out")
    if isinstance(e, _t.Error_Gai):
        return gaierror(_EAI[e.value.code], e.value.message)
    if isinstance(e, _t.Error_H):
        return herror(_H_ERRNO[e.value.code], e.value.message)
    if isinstance(e, _t.Error_Denied):
        exc = PermissionError(_errno.EACCES, e.value.message)
        # What was refused and the rule that would allow it (the WIT's `policy-denial`).
        exc.policy_denial = e.value
        return exc
    if isinstance(e, _t.Error_Value):
        return ValueError(e.value)
    if isinstance(e, _t.Error_Tls) and _tls_exception is not None:
        return _tls_exception(e.value)
    return OSError(str(e))


# The exception for a TLS error (``ssl``'s classes): ``_ssl`` sets it when it is imported.
_tls_exception = None


# componentize-py runs a plugin's imports at build time and snapshots the result; there is no
# host then, and a call into the bindings would end the build with a panic. Until the plugin
# runs (``sockbox.command``'s export calls ``_start``), socket calls fail as on a machine with no
# network, so a library probing at import time (urllib3's ``HAS_IPV6``) builds.
_running = False
# A default timeout set at build time, applied when the plugin runs (a list: set or not).
_pending_default_timeout = []


def _start():
    """The plugin runs: from now on calls reach the host."""
    global _running
    if not _running:
        _running = True
        if _pending_default_timeout:
            _wit.setdefaulttimeout(_pending_default_timeout[0])


def _call(fn, *args):
    """Calls a binding, raising its error as the Python exception CPython would raise (raised
    outside the handler, so it carries no ``__context__``, as CPython's do not)."""
    if not _running:
        raise _os_error("ENETDOWN", "Network is down (no sockets while the plugin is being built)")
    try:
        return fn(*args)
    except _Err as e:
        error = e.value
    raise _exception(error)


def _os_error(name, message):
    return OSError(getattr(_errno, name), message)


# ---------------------------------------------------------------------------------------------
# Descriptors: the guest's numbers for host handles.

# Guest descriptor numbers start high, clear of the numbers wasi-libc gives files and stdio.
_FD_BASE = 1 << 20
_fds = {}
_next_fd = _FD_BASE


def _register(handle):
    """Gives a host handle (socket, received descriptor or file) a guest descriptor number."""
    global _next_fd
    fd = _next_fd
    _next_fd += 1
    _fds[fd] = handle
    return fd


def _lookup(fd):
    """The handle behind a guest descriptor number (``EBADF`` when there is none)."""
    if not isinstance(fd, int):
        raise TypeError(f"an integer is required (got type {type(fd).__name__})")
    handle = _fds.get(fd)
    if handle is None:
        raise _os_error("EBADF", "Bad file descriptor")
    return handle


def _drop(handle):
    """Closes a host handle for good."""
    try:
        if isinstance(handle, _wit.Socket):
            handle.close()
    except _Err:
        pass
    handle.__exit__(None, None, None)


def close(fd):
    """``close(fd)``: closes a descriptor (from ``detach`` or ``recv_fds``)."""
    handle = _lookup(fd)
    del _fds[fd]
    _drop(handle)


def dup(fd):
    """``dup(fd)``: a new descriptor for the same socket."""
    handle = _lookup(fd)
    if not isinstance(handle, _wit.Socket):
        raise _os_error("EOPNOTSUPP", "only sockets can be duplicated")
    return _register(_call(handle.dup))


def _received_socket(fd):
    """The socket handle behind ``fd``, turning a received socket descriptor into one."""
    if isinstance(fd, int) and 0 <= fd < _FD_BASE and fd not in _fds:
        # A descriptor of the guest's own (a file, stdin) is no socket; none at all is EBADF.
        # (Raised outside the handler: C's errors carry no context.)
        try:
            _os.fstat(fd)
            is_open = True
        except OSError:
            is_open = False
        if not is_open:
            raise _os_error("EBADF", "Bad file descriptor")
        raise _os_error("ENOTSOCK", "Socket operation on non-socket")
    handle = _lookup(fd)
    if isinstance(handle, _wit.ReceivedFd):
        if not handle.is_socket():
            raise _os_error("ENOTSOCK", "Socket operation on non-socket")
        handle = _call(_wit.Socket.from_received_fd, handle)
        _fds[fd] = handle
    if not isinstance(handle, _wit.Socket):
        raise _os_error("ENOTSOCK", "Socket operation on non-socket")
    return handle


# ---------------------------------------------------------------------------------------------
# Families, kinds, flags and addresses.

_FAMILY = {
    AF_UNSPEC: _t.AddressFamily_Unspec(),
    AF_INET: _t.AddressFamily_Inet(),
    AF_INET6: _t.AddressFamily_Inet6(),
    AF_UNIX: _t.AddressFamily_Unix(),
}
_KIND = {
    SOCK_STREAM: _t.SocketKind_Stream(),
    SOCK_DGRAM: _t.SocketKind_Dgram(),
    SOCK_SEQPACKET: _t.SocketKind_Seqpacket(),
    SOCK_RAW: _t.SocketKind_Raw(),
}
_FAMILY_NUMBER = {
    _t.AddressFamily_Unspec: AF_UNSPEC,
    _t.AddressFamily_Inet: AF_INET,
    _t.AddressFamily_Inet6: AF_INET6,
    _t.AddressFamily_Unix: AF_UNIX,
}
_KIND_NUMBER = {
    _t.SocketKind_Stream: SOCK_STREAM,
    _t.SocketKind_Dgram: SOCK_DGRAM,
    _t.SocketKind_Seqpacket: SOCK_SEQPACKET,
    _t.SocketKind_Raw: SOCK_RAW,
}


def _index(value):
    """An integer argument (``__index__``), as CPython's argument parsing takes one."""
    index = getattr(type(value), "__index__", None)
    if index is None:
        raise TypeError(f"'{type(value).__name__}' object cannot be interpreted as an integer")
    return index(value)


# C's ranges, checked here so no number reaches the bindings that their types cannot hold
# (an out-of-range value would trap the plugin instead of raising).
_INT_MIN, _INT_MAX = -(1 << 31), (1 << 31) - 1


def _c_int(value):
    """An ``int`` argument parsed as C ``int`` (the ``"i"`` format)."""
    value = _index(value)
    if value > _INT_MAX:
        raise OverflowError("signed integer is greater than maximum")
    if value < _INT_MIN:
        raise OverflowError("signed integer is less than minimum")
    return value


def _as_int(value):
    """An ``int`` argument converted to C ``int`` by ``PyLong_AsInt``."""
    value = _index(value)
    if not _INT_MIN <= value <= _INT_MAX:
        raise OverflowError("Python int too large to convert to C int")
    return value


def _ssize(value):
    """An ``int`` argument parsed as C ``ssize_t`` (the ``"n"`` format)."""
    value = _index(value)
    if not -(1 << 63) <= value < (1 << 63):
        raise OverflowError("Python int too large to convert to C ssize_t")
    return value


def _text(value, what="argument"):
    """A ``str`` that can cross into the bindings (UTF-8: a lone surrogate is CPython's
    UnicodeEncodeError, not a trap); ``what`` names the argument in the TypeError for others."""
    if not isinstance(value, str):
        raise TypeError(f"{what} must be str, not {type(value).__name__}")
    value.encode("utf-8")
    return value


def _family(number):
    number = _as_int(number)
    return _FAMILY.get(number) or _t.AddressFamily_Other(number)


def _kind(number):
    number = _as_int(number)
    return _KIND.get(number) or _t.SocketKind_Other(number)


def _family_number(family):
    if isinstance(family, _t.AddressFamily_Other):
        return family.value
    return _FAMILY_NUMBER[type(family)]


def _kind_number(kind):
    if isinstance(kind, _t.SocketKind_Other):
        return kind.value
    return _KIND_NUMBER[type(kind)]


_MSG = (
    (MSG_OOB, _t.MsgFlags.OOB),
    (MSG_PEEK, _t.MsgFlags.PEEK),
    (MSG_DONTROUTE, _t.MsgFlags.DONTROUTE),
    (MSG_WAITALL, _t.MsgFlags.WAITALL),
    (MSG_DONTWAIT, _t.MsgFlags.DONTWAIT),
    (MSG_EOR, _t.MsgFlags.EOR),
    (MSG_TRUNC, _t.MsgFlags.TRUNC),
    (MSG_CTRUNC, _t.MsgFlags.CTRUNC),
)
_MSG_KNOWN = sum(bit for bit, _ in _MSG)
_NO_FLAGS = _t.MsgFlags(0)
# Flags the host always applies (no SIGPIPE; received descriptors are close-on-exec).
_IMPLIED = MSG_NOSIGNAL | MSG_CMSG_CLOEXEC


def _bits(value, table, empty):
    """The flags of ``table`` (``(bit, flag)`` pairs) whose bits are set in ``value``."""
    out = empty
    for bit, flag in table:
        if value & bit:
            out |= flag
    return out


def _msg_flags(flags):
    """``MSG_*`` bits as the WIT's ``msg-flags``."""
    flags = _index(flags)
    if not flags:
        return _NO_FLAGS
    rest = flags & ~(_IMPLIED | _MSG_KNOWN)
    if rest:
        raise _os_error("EOPNOTSUPP", f"flags {rest:#x} are not supported by sockbox")
    return _bits(flags, _MSG, _NO_FLAGS)


def _msg_number(flags):
    return sum(bit for bit, flag in _MSG if flag in flags)


def _port(port, call):
    if not isinstance(port, int):
        raise TypeError(f"'{type(port).__name__}' object cannot be interpreted as an integer")
    if not 0 <= port <= 0xFFFF:
        raise OverflowError(f"{call}(): port must be 0-65535.")
    return port


def _host_text(host):
    if isinstance(host, str):
        return _text(host)
    if isinstance(host, (bytes, bytearray)):
        return bytes(host).decode("ascii")
    raise TypeError(f"str, bytes or bytearray expected, not {type(host).__name__}")


def _parse_ipv4(text):
    """Dotted-quad IPv4 text as a 4-tuple, or None."""
    parts = text.split(".")
    if len(parts) != 4:
        return None
    try:
        quad = tuple(int(p, 10) for p in parts)
    except ValueError:
        return None
    if not all(0 <= b <= 255 and p.isdigit() for b, p in zip(quad, parts)):
        return None
    return quad


def _parse_ipv6(text):
    """IPv6 text (with an optional ``%scope``) as (8-tuple, scope id), or None."""
    scope = 0
    if "%" in text:
        text, _, name = text.partition("%")
        scope = int(name) if name.isdigit() else if_nametoindex(name)
    try:
        packed = inet_pton(AF_INET6, text)
    except OSError:
        return None
    return tuple(int.from_bytes(packed[i : i + 2], "big") for i in range(0, 16, 2)), scope


def _resolve(host, family):
    """The first address of a host name, as CPython's ``setipaddr`` resolves one."""
    infos = _call(_netdb.getaddrinfo, host, None, _FAMILY[family], None, 0, _t.AddrInfoFlags(0))
    for info in infos:
        if isinstance(info.address, _t.SockAddress_Inet if family == AF_INET else _t.SockAddress_Inet6):
            return info.address.value.address
    raise gaierror(EAI_NONAME, "Name or service not known")


def _sockaddr(family, address, call):
    """A Python address in ``family``'s form as the WIT's ``sock-address``."""
    if family == AF_INET:
        if not isinstance(address, tuple):
            raise TypeError(f"{call}(): AF_INET address must be tuple, not {type(address).__name__}")
        if len(address) != 2:
            raise TypeError("AF_INET address must be a pair (host, port)")
        host, port = address
        host = _idna(host, in_address=True)
        port = _port(port, call)
        if host == "":
            quad = (0, 0, 0, 0)
        elif host == "<broadcast>":
            quad = (255, 255, 255, 255)
        else:
            quad = _parse_ipv4(host) or _resolve(host, AF_INET)
        return _t.SockAddress_Inet(_t.Ipv4SockAddress(quad, port))
    if family == AF_INET6:
        if not isinstance(address, tuple):
            raise TypeError(f"{call}(): AF_INET6 address must be tuple, not {type(address).__name__}")
        if not 2 <= len(address) <= 4:
            raise TypeError("AF_INET6 address must be a tuple (host, port[, flowinfo[, scopeid]])")
        host, port, flowinfo, scope_id = (address + (0, 0))[:4]
        host = _idna(host, in_address=True)
        port = _port(port, call)
        # C's "I" format: unsigned, masked (no overflow check); flowinfo is 20 bits.
        flowinfo = _index(flowinfo) & 0xFFFFFFFF
        scope_id = _index(scope_id) & 0xFFFFFFFF
        if flowinfo > 0xFFFFF:
            raise OverflowError(f"{call}(): flowinfo must be 0-1048575.")
        if host == "":
            parsed = ((0,) * 8, 0)
        else:
            parsed = _parse_ipv6(host) or (_resolve(host, AF_INET6), 0)
        segments, scope = parsed
        return _t.SockAddress_Inet6(_t.Ipv6SockAddress(segments, port, flowinfo, scope_id or scope))
    if family == AF_UNIX:
        if isinstance(address, str):
            address = _os.fsencode(address)
        elif isinstance(address, (bytes, bytearray, memoryview)):
            address = bytes(address)
        else:
            raise TypeError(f"a bytes-like object is required, not '{type(address).__name__}'")
        if address.startswith(b"\0"):
            return _t.SockAddress_Unix(_t.UnixAddress_Abstract(address[1:]))
        return _t.SockAddress_Unix(_t.UnixAddress_Path(address))
    raise _os_error("EAFNOSUPPORT", f"{call}(): bad family")


def _ipv6_text(segments):
    return inet_ntop(AF_INET6, b"".join(s.to_bytes(2, "big") for s in segments))


def _address(address):
    """The WIT's ``sock-address`` in Python's form."""
    if address is None:
        return None
    if isinstance(address, _t.SockAddress_Inet):
        a = address.value
        return ("%d.%d.%d.%d" % a.address, a.port)
    if isinstance(address, _t.SockAddress_Inet6):
        a = address.value
        return (_ipv6_text(a.address), a.port, a.flow_info, a.scope_id)
    unix = address.value
    if isinstance(unix, _t.UnixAddress_Path):
        return _os.fsdecode(unix.value)
    if isinstance(unix, _t.UnixAddress_Abstract):
        return b"\0" + unix.value
    return ""


def _bytes(data):
    if isinstance(data, bytes):
        return data
    try:
        view = memoryview(data)
    except TypeError:
        view = None
    if view is None:
        raise TypeError(f"a bytes-like object is required, not '{type(data).__name__}'")
    return bytes(view)


# ---------------------------------------------------------------------------------------------
# Timeouts.


def _timeout_ns(value):
    """A Python timeout in seconds as the WIT's nanoseconds (``None``: blocking)."""
    if value is None:
        return None
    if isinstance(value, float):
        seconds = value
    else:
        seconds = _index(value)
    if seconds != seconds or seconds < 0:
        raise ValueError("Timeout value out of range")
    # CPython keeps time in signed 64-bit nanoseconds.
    if seconds * 1_000_000_000 >= 1 << 63:
        if isinstance(value, float):
            raise OverflowError("timestamp out of range for platform time_t")
        raise OverflowError("timestamp too large to convert to C _PyTime_t")
    ns = int(seconds * 1e9)
    if seconds and not ns:
        ns = 1  # CPython rounds a timeout up, never down to non-blocking.
    return ns


def _timeout_seconds(ns):
    return None if ns is None else ns / 1e9


def getdefaulttimeout():
    """``getdefaulttimeout()``: the timeout new sockets get, in seconds, or None."""
    if not _running:
        return _timeout_seconds(_pending_default_timeout[0] if _pending_default_timeout else None)
    return _timeout_seconds(_wit.getdefaulttimeout())


def setdefaulttimeout(timeout):
    """``setdefaulttimeout(timeout)`` (at build time, kept for when the plugin runs)."""
    ns = _timeout_ns(timeout)
    if not _running:
        _pending_default_timeout[:] = [ns]
        return
    _wit.setdefaulttimeout(ns)


# ---------------------------------------------------------------------------------------------
# The socket type.


class _SocketType(type):
    """The type of ``_socket.socket``: immutable, as C types are (its subclasses are not)."""

    def __setattr__(cls, name, value):
        if cls is socket:
            raise TypeError(f"cannot set {name!r} attribute of immutable type '_socket.socket'")
        super().__setattr__(name, value)

    def __delattr__(cls, name):
        if cls is socket:
            raise TypeError(f"cannot delete {name!r} attribute of immutable type '_socket.socket'")
        super().__delattr__(name)


class socket(metaclass=_SocketType):
    """``_socket.socket``: what ``socket.socket`` subclasses."""

    # The object refers to its descriptor by number, as CPython's does: two objects may wrap one
    # descriptor (``socket(fileno=s.fileno())``), and once either closes it, the other's calls
    # fail with EBADF. Each keeps its own timeout.
    __slots__ = ("_fd", "_family", "_type", "_proto", "_timeout")

    def __init__(self, family=-1, type=-1, proto=-1, fileno=None):
        self._fd = -1
        self._timeout = None
        if fileno is None:
            family = AF_INET if family == -1 else _as_int(family)
            type = SOCK_STREAM if type == -1 else _as_int(type)
            proto = 0 if proto == -1 else _as_int(proto)
            kind = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)
            sock = _call(_wit.Socket.create, _family(family), _kind(kind), proto)
            fd = _register(sock)
        elif isinstance(fileno, (bytes, bytearray)):
            # `socket.fromshare(token)`: a socket another instance shared.
            sock = _call(_helpers.fromshare, bytes(fileno))
            fd = _register(sock)
        else:
            fd = _as_int(fileno)
            if fd < 0:
                raise ValueError("negative file descriptor")
            sock = _received_socket(fd)
        self._fd = fd
        if fileno is None:
            self._family, self._type, self._proto = family, kind, proto
        else:
            # A descriptor's family, type and protocol come from the socket unless given.
            self._family = _family_number(sock.family()) if family in (-1, None) else _as_int(family)
            self._type = _kind_number(sock.kind()) if type in (-1, None) else _as_int(type)
            self._type &= ~(SOCK_NONBLOCK | SOCK_CLOEXEC)
            self._proto = _protocol(sock) if proto in (-1, None) else _as_int(proto)
        # Every new object starts at the default timeout (non-blocking with SOCK_NONBLOCK).
        timeout = 0 if fileno is None and type & SOCK_NONBLOCK else _wit.getdefaulttimeout()
        sock.settimeout(timeout)
        self._timeout = timeout

    def __del__(self):
        fd = self._fd
        if fd == -1:
            return
        if fd in _fds:
            # As CPython: the warning names the socket while it is still open.
            _warnings.warn(f"unclosed {self!r}", ResourceWarning, source=self)
        self._fd = -1
        handle = _fds.pop(fd, None)
        if handle is not None:
            _drop(handle)

    def __repr__(self):
        return f"<socket object, fd={self._fd}, family={self._family}, type={self._type}, proto={self._proto}>"

    def _handle(self):
        if self._fd == -1:
            raise _os_error("EBADF", "Bad file descriptor")
        return _received_socket(self._fd)

    @property
    def family(self):
        """The address family (an ``int``; ``socket.socket`` turns it into an enum)."""
        return self._family

    @property
    def type(self):
        """The socket type, without ``SOCK_NONBLOCK``/``SOCK_CLOEXEC``."""
        return self._type

    @property
    def proto(self):
        """The protocol number."""
        return self._proto

    @property
    def timeout(self):
        """The timeout in seconds, or None."""
        return self.gettimeout()

    def fileno(self):
        """The guest's descriptor number (-1 once closed or detached)."""
        return self._fd

    def close(self):
        """Closes the socket; closing twice is not an error, closing a descriptor another
        object closed is EBADF (as in CPython)."""
        fd = self._fd
        if fd == -1:
            return
        self._fd = -1
        handle = _fds.pop(fd, None)
        if handle is None:
            raise _os_error("EBADF", "Bad file descriptor")
        _drop(handle)

    def detach(self):
        """Gives up the socket without closing it and returns its descriptor number."""
        fd = self._fd
        self._fd = -1
        return fd

    def bind(self, address):
        """``bind(address)``."""
        _call(self._handle().bind, _sockaddr(self._family, address, "bind"))

    def listen(self, backlog=min(SOMAXCONN, 128)):
        """``listen([backlog])``."""
        # CPython: a negative backlog is 0.
        _call(self._handle().listen, max(0, _c_int(backlog)))

    def _accept(self):
        sock, address = _call(self._handle().accept)
        return _register(sock), _address(address)

    def connect(self, address):
        """``connect(address)``."""
        _call(self._handle().connect, _sockaddr(self._family, address, "connect"))

    def connect_ex(self, address):
        """``connect_ex(address)``: 0 or the errno number."""
        code = _call(self._handle().connect_ex, _sockaddr(self._family, address, "connect_ex"))
        return 0 if code is None else _ERRNO.get(code) or _errno.EIO

    def send(self, data, flags=0):
        """``send(data[, flags])``: the number of bytes sent."""
        return _call(self._handle().send, _bytes(data), _msg_flags(flags))

    def sendall(self, data, flags=0):
        """``sendall(data[, flags])``."""
        _call(self._handle().sendall, _bytes(data), _msg_flags(flags))

    def sendto(self, *args):
        """``sendto(data[, flags], address)``."""
        # As C's argument parsing: None is an address like any other value.
        if len(args) == 2:
            (data, address), flags = args, 0
        elif len(args) == 3:
            data, flags, address = args
        else:
            raise TypeError(f"sendto() takes 2 or 3 arguments ({len(args)} given)")
        target = _sockaddr(self._family, address, "sendto")
        return _call(self._handle().sendto, _bytes(data), _msg_flags(flags), target)

    def recv(self, bufsize, flags=0):
        """``recv(bufsize[, flags])``."""
        bufsize = _ssize(bufsize)
        if bufsize < 0:
            raise ValueError("negative buffersize in recv")
        return _call(self._handle().recv, bufsize, _msg_flags(flags))

    def recvfrom(self, bufsize, flags=0):
        """``recvfrom(bufsize[, flags])``: ``(data, address)``."""
        bufsize = _ssize(bufsize)
        if bufsize < 0:
            raise ValueError("negative buffersize in recvfrom")
        data, address = _call(self._handle().recvfrom, bufsize, _msg_flags(flags))
        return data, _address(address)

    def recv_into(self, buffer, nbytes=0, flags=0):
        """``recv_into(buffer[, nbytes[, flags]])``: the number of bytes read."""
        view = _writable(buffer, "recv_into")
        nbytes = _into_size(view, nbytes, "recv_into")
        data = _call(self._handle().recv, nbytes, _msg_flags(flags))
        view[: len(data)] = data
        return len(data)

    def recvfrom_into(self, buffer, nbytes=0, flags=0):
        """``recvfrom_into(buffer[, nbytes[, flags]])``: ``(nbytes, address)``."""
        view = _writable(buffer, "recvfrom_into")
        nbytes = _into_size(view, nbytes, "recvfrom_into")
        data, address = _call(self._handle().recvfrom, nbytes, _msg_flags(flags))
        view[: len(data)] = data
        return len(data), _address(address)

    def sendmsg(self, buffers, ancdata=(), flags=0, address=None):
        """``sendmsg(buffers[, ancdata[, flags[, address]]])``: ancillary data may carry
        ``SCM_RIGHTS`` descriptors (sockets, received descriptors, files from
        ``sockbox.open_file``) over a Unix-domain socket."""
        data = [_bytes(b) for b in buffers]
        target = None if address is None else _sockaddr(self._family, address, "sendmsg")
        fds = []
        for item in ancdata:
            level, kind, payload = item
            if (level, kind) != (SOL_SOCKET, SCM_RIGHTS):
                raise _os_error("EINVAL", "sockbox passes only SCM_RIGHTS ancillary data")
            numbers = _array.array("i")
            raw = _bytes(payload)
            numbers.frombytes(raw[: len(raw) - len(raw) % numbers.itemsize])
            fds.extend(numbers)
        sock = self._handle()
        if not fds:
            return _call(sock.sendmsg, data, _msg_flags(flags), target)
        return _call(sock.send_fds, data, [_fd_to_send(fd) for fd in fds], _msg_flags(flags), target)

    def recvmsg(self, bufsize, ancbufsize=0, flags=0):
        """``recvmsg(bufsize[, ancbufsize[, flags]])``: ``(data, ancdata, msg_flags, address)``;
        room for ancillary data receives ``SCM_RIGHTS`` descriptors on Unix-domain sockets."""
        bufsize = _ssize(bufsize)
        ancbufsize = _ssize(ancbufsize)
        if bufsize < 0:
            raise ValueError("negative buffer size in recvmsg()")
        if ancbufsize < 0:
            raise ValueError("negative buffer size in recvmsg()")
        sock = self._handle()
        maxfds = max(0, ancbufsize - CMSG_LEN(0)) // 4
        if self._family == AF_UNIX and maxfds:
            message = _call(sock.recv_fds, bufsize, maxfds, _msg_flags(flags))
            fds = [_register(fd) for fd in message.fds]
            ancdata = [(SOL_SOCKET, SCM_RIGHTS, _array.array("i", fds).tobytes())] if fds else []
            return message.data, ancdata, _msg_number(message.flags), _address(message.address)
        message = _call(sock.recvmsg, bufsize, _msg_flags(flags))
        return message.data, [], _msg_number(message.flags), _address(message.address)

    def recvmsg_into(self, buffers, ancbufsize=0, flags=0):
        """``recvmsg_into(buffers[, ancbufsize[, flags]])``: ``(nbytes, ancdata, msg_flags,
        address)``, the data scattered over ``buffers``."""
        views = [_writable(b, "recvmsg_into") for b in buffers]
        data, ancdata, msg_flags, address = self.recvmsg(sum(len(v) for v in views), ancbufsize, flags)
        offset = 0
        for view in views:
            chunk = data[offset : offset + len(view)]
            view[: len(chunk)] = chunk
            offset += len(chunk)
        return len(data), ancdata, msg_flags, address

    def shutdown(self, how):
        """``shutdown(how)``."""
        how = _as_int(how)
        names = {SHUT_RD: _t.ShutdownHow.READ, SHUT_WR: _t.ShutdownHow.WRITE, SHUT_RDWR: _t.ShutdownHow.BOTH}
        if how not in names:
            raise _os_error("EINVAL", "Invalid argument")
        _call(self._handle().shutdown, names[how])

    def getsockname(self):
        """``getsockname()``."""
        return _address(_call(self._handle().getsockname))

    def getpeername(self):
        """``getpeername()``."""
        return _address(_call(self._handle().getpeername))

    def setsockopt(self, level, optname, value, optlen=None):
        """``setsockopt(level, optname, value)``: an ``int`` or the option's C bytes."""
        if value is None:
            raise _os_error("EOPNOTSUPP", "setsockopt with a NULL value is not supported")
        level, optname = _c_int(level), _c_int(optname)
        if isinstance(value, int) and _INT_MIN <= value <= _INT_MAX:
            raw = value.to_bytes(4, "little", signed=True)
        else:
            # CPython tries the value as a C int, then as a buffer.
            raw = _bytes(value)
        _call(self._handle().setsockopt_raw, level, optname, raw)

    def getsockopt(self, level, optname, buflen=0):
        """``getsockopt(level, optname[, buflen])``: an ``int``, or ``buflen`` bytes."""
        level, optname = _c_int(level), _c_int(optname)
        buflen = _c_int(buflen)
        if buflen < 0 or buflen > 1024:
            raise OSError("getsockopt buflen out of range")
        sock = self._handle()
        if buflen == 0:
            raw = _call(sock.getsockopt_raw, level, optname, 4)
            return int.from_bytes(raw.ljust(4, b"\0"), "little", signed=True)
        return _call(sock.getsockopt_raw, level, optname, buflen)

    def settimeout(self, value):
        """``settimeout(seconds or None)``."""
        ns = _timeout_ns(value)
        self._handle().settimeout(ns)
        self._timeout = ns

    def gettimeout(self):
        """``gettimeout()``: seconds, or None when blocking (this object's, even once closed)."""
        return _timeout_seconds(self._timeout)

    def setblocking(self, flag):
        """``setblocking(flag)``."""
        self.settimeout(None if flag else 0)

    def getblocking(self):
        """``getblocking()``: False only in non-blocking mode (a timeout is still blocking)."""
        return self._timeout != 0

    def share(self, process_id=None):
        """``share()``: a single-use token ``socket.fromshare`` turns back into this socket
        in another instance of the same share group."""
        return _call(self._handle().share)


SocketType = socket


def _protocol(sock):
    """The protocol number the OS reports for a socket (SO_PROTOCOL), as CPython reads it for
    ``socket(fileno=)``."""
    try:
        raw = sock.getsockopt_raw(SOL_SOCKET, SO_PROTOCOL, 4)
    except _Err:
        return sock.proto()
    return int.from_bytes(raw.ljust(4, b"\0"), "little", signed=True)


def _writable(buffer, call):
    """A byte view of a buffer the call may write, checked before any I/O (a read-only one is
    CPython's TypeError, and no data is consumed)."""
    try:
        view = memoryview(buffer)
    except TypeError:
        view = None
    if view is None or view.readonly:
        raise TypeError(f"{call}() argument 1 must be read-write bytes-like object, not {type(buffer).__name__}")
    return view.cast("B")


def _into_size(view, nbytes, call):
    nbytes = _ssize(nbytes)
    if nbytes < 0:
        raise ValueError(f"negative buffersize in {call}")
    if nbytes == 0:
        nbytes = len(view)
    elif nbytes > len(view):
        raise ValueError("nbytes is greater than the length of the buffer")
    return nbytes


def _fd_to_send(fd):
    handle = _lookup(fd)
    if isinstance(handle, _wit.Socket):
        return _wit.FdToSend_Socket(handle)
    if isinstance(handle, _wit.ReceivedFd):
        return _wit.FdToSend_Received(handle)
    return _wit.FdToSend_File(handle)


def socketpair(family=AF_UNIX, type=SOCK_STREAM, proto=0):
    """``socketpair([family[, type[, proto]]])``: two connected sockets."""
    a, b = _call(_helpers.socketpair, _family(family), _kind(type), _as_int(proto))
    return socket(fileno=_register(a)), socket(fileno=_register(b))


# CPython's SOCKLEN_T_LIMIT: no control message may be longer.
_SOCKLEN_T_LIMIT = 0x7FFFFFFF


def CMSG_LEN(length):
    """``CMSG_LEN(length)``: the size of a control message carrying ``length`` bytes."""
    length = _ssize(length)
    if not 0 <= length <= _SOCKLEN_T_LIMIT - 16:
        raise OverflowError("CMSG_LEN() argument out of range")
    return 16 + length


def CMSG_SPACE(length):
    """``CMSG_SPACE(length)``: ``CMSG_LEN`` padded to the next message."""
    length = _ssize(length)
    # As CPython: room for the padding before and after the data (CMSG_SPACE(1) is 24).
    if not 0 <= length <= _SOCKLEN_T_LIMIT - 24:
        raise OverflowError("CMSG_SPACE() argument out of range")
    return 16 + ((length + 7) & ~7)


# ---------------------------------------------------------------------------------------------
# Name lookups (netdb), under the host's lookup rules.

_AI = (
    (AI_PASSIVE, _t.AddrInfoFlags.PASSIVE),
    (AI_CANONNAME, _t.AddrInfoFlags.CANONNAME),
    (AI_NUMERICHOST, _t.AddrInfoFlags.NUMERICHOST),
    (AI_NUMERICSERV, _t.AddrInfoFlags.NUMERICSERV),
    (AI_V4MAPPED, _t.AddrInfoFlags.V4MAPPED),
    (AI_ALL, _t.AddrInfoFlags.ALL),
    (AI_ADDRCONFIG, _t.AddrInfoFlags.ADDRCONFIG),
)
_NI = (
    (NI_NUMERICHOST, _t.NameInfoFlags.NUMERICHOST),
    (NI_NUMERICSERV, _t.NameInfoFlags.NUMERICSERV),
    (NI_NAMEREQD, _t.NameInfoFlags.NAMEREQD),
    (NI_NOFQDN, _t.NameInfoFlags.NOFQDN),
    (NI_DGRAM, _t.NameInfoFlags.DGRAM),
)


def _idna(host, in_address=False):
    """A host name as ASCII (IDNA for other names). One with no such form (a lone surrogate;
    or any non-ASCII name, since this Python has no ``idna`` codec) raises what CPython does:
    UnicodeError, or TypeError inside an address tuple (its ``idna_converter``)."""
    if not isinstance(host, str):
        return _host_text(host)
    if host.isascii():
        return host
    try:
        return host.encode("idna").decode("ascii")
    except (UnicodeError, LookupError):
        pass
    if in_address:
        raise TypeError("encoding of hostname failed")
    raise UnicodeError("encoding with 'idna' codec failed")


def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
    """``getaddrinfo(host, port[, family[, type[, proto[, flags]]]])``: a list of
    ``(family, type, proto, canonname, sockaddr)``."""
    host = None if host is None else _idna(host)
    if port is None:
        service = None
    elif isinstance(port, int):
        service = str(port)
    elif isinstance(port, (str, bytes)):
        service = _host_text(port)
    else:
        raise OSError("Int or String expected")
    kind = _kind(type) if type else None
    infos = _call(
        _netdb.getaddrinfo,
        host,
        service,
        _family(family),
        kind,
        _c_int(proto),
        _bits(_c_int(flags), _AI, _t.AddrInfoFlags(0)),
    )
    return [
        (_family_number(i.family), _kind_number(i.kind), i.proto, i.canonname, _address(i.address))
        for i in infos
    ]


def getnameinfo(sockaddr, flags):
    """``getnameinfo(sockaddr, flags)``: ``(host, port)``; the host part must be numeric."""
    if not isinstance(sockaddr, tuple):
        # The traceback keeps this frame: like C's, it must not keep the argument alive.
        del sockaddr
        raise TypeError("getnameinfo() argument 1 must be a tuple")
    if not 2 <= len(sockaddr) <= 4:
        raise TypeError("getnameinfo(): illegal sockaddr argument")
    host = _host_text(sockaddr[0])
    family = AF_INET6 if ":" in host else AF_INET
    if family == AF_INET and len(sockaddr) != 2:
        raise OSError("IPv4 sockaddr must be 2 tuple")
    if not (_parse_ipv4(host) if family == AF_INET else _parse_ipv6(host)):
        raise gaierror(EAI_NONAME, "Name or service not known")
    address = _sockaddr(family, sockaddr, "getnameinfo")
    flags = _c_int(flags)
    return _call(_netdb.getnameinfo, address, _bits(flags, _NI, _t.NameInfoFlags(0)))


def gethostname():
    """``gethostname()``."""
    return _call(_netdb.gethostname)


def gethostbyname(hostname):
    """``gethostbyname(hostname)``: an IPv4 address as text."""
    return _call(_netdb.gethostbyname, _idna(hostname))


def _host_entry(entry):
    return entry.name, list(entry.aliases), list(entry.addresses)


def gethostbyname_ex(hostname):
    """``gethostbyname_ex(hostname)``: ``(name, aliases, addresses)``."""
    return _host_entry(_call(_netdb.gethostbyname_ex, _idna(hostname)))


def gethostbyaddr(ip_address):
    """``gethostbyaddr(ip_address)``: ``(name, aliases, addresses)``."""
    return _host_entry(_call(_netdb.gethostbyaddr, _idna(ip_address)))


def getservbyname(servicename, protocolname=None):
    """``getservbyname(servicename[, protocolname])``: the port number."""
    servicename = _text(servicename, "getservbyname() argument 1")
    if protocolname is not None:
        protocolname = _text(protocolname, "getservbyname() argument 2")
    return _call(_netdb.getservbyname, servicename, protocolname)


def getservbyport(port, protocolname=None):
    """``getservbyport(port[, protocolname])``: the service name."""
    port = _c_int(port)
    if not 0 <= port <= 0xFFFF:
        raise OverflowError("getservbyport: port must be 0-65535.")
    if protocolname is not None:
        protocolname = _text(protocolname, "getservbyport() argument 2")
    return _call(_netdb.getservbyport, port, protocolname)


def getprotobyname(protocolname):
    """``getprotobyname(protocolname)``: the protocol number."""
    return _call(_netdb.getprotobyname, _text(protocolname, "getprotobyname() argument"))


def if_nameindex():
    """``if_nameindex()``: ``[(index, name), ...]``."""
    return [tuple(pair) for pair in _call(_netdb.if_nameindex)]


def if_nametoindex(name):
    """``if_nametoindex(name)``."""
    if not isinstance(name, str):
        raise TypeError("if_nametoindex(): argument must be str")
    return _call(_netdb.if_nametoindex, _text(name))


def if_indextoname(index):
    """``if_indextoname(index)``."""
    index = _index(index)
    if not 0 <= index <= 0xFFFFFFFF:
        raise OverflowError("index is too large")
    return _call(_netdb.if_indextoname, index)


# ---------------------------------------------------------------------------------------------
# Byte order and address text.


def _uint(x, bits, call):
    x = _index(x)
    if x < 0:
        raise OverflowError(f"{call}: can't convert negative Python int to C {bits}-bit unsigned integer")
    if x >> bits:
        raise OverflowError(f"{call}: Python int too large to convert to C {bits}-bit unsigned integer")
    return x


def htons(x):
    """``htons(x)``: 16 bits from host to network order (wasm is little-endian)."""
    return int.from_bytes(_uint(x, 16, "htons").to_bytes(2, "little"), "big")


def htonl(x):
    """``htonl(x)``: 32 bits from host to network order."""
    return int.from_bytes(_uint(x, 32, "htonl").to_bytes(4, "little"), "big")


ntohs = htons
ntohl = htonl


def inet_aton(string):
    """``inet_aton(string)``: four bytes; takes the short and hex/octal forms C does."""
    if not isinstance(string, str):
        raise TypeError(f"inet_aton() argument 1 must be str, not {type(string).__name__}")
    parts = string.split(".")
    try:
        if not 1 <= len(parts) <= 4 or string.strip() != string:
            raise ValueError
        values = [int(p, 0) if not (len(p) > 1 and p[0] == "0" and p[1] not in "xX") else int(p, 8) for p in parts]
        *head, last = values
        if any(not 0 <= v <= 255 for v in head) or not 0 <= last < 1 << (8 * (5 - len(parts))):
            raise ValueError
    except ValueError:
        raise OSError("illegal IP address string passed to inet_aton") from None
    number = 0
    for v in head:
        number = number << 8 | v
    number = number << (8 * (5 - len(parts))) | last
    return number.to_bytes(4, "big")


def inet_ntoa(packed_ip):
    """``inet_ntoa(packed_ip)``: dotted-quad text."""
    packed = _bytes(packed_ip)
    if len(packed) != 4:
        raise OSError("packed IP wrong length for inet_ntoa")
    return "%d.%d.%d.%d" % tuple(packed)


def inet_pton(address_family, ip_string):
    """``inet_pton(address_family, ip_string)``: packed bytes."""
    if not isinstance(ip_string, str):
        raise TypeError(f"inet_pton() argument 2 must be str, not {type(ip_string).__name__}")
    if address_family == AF_INET:
        quad = _parse_ipv4(ip_string)
        if quad is None:
            raise OSError("illegal IP address string passed to inet_pton")
        return bytes(quad)
    if address_family == AF_INET6:
        packed = _pton6(ip_string)
        if packed is None:
            raise OSError("illegal IP address string passed to inet_pton")
        return packed
    raise _os_error("EAFNOSUPPORT", "Address family not supported by protocol")


def _pton6(text):
    if text.count("::") > 1 or not text:
        return None
    tail = b""
    if "." in text:
        # An IPv4 tail (`::ffff:1.2.3.4`): its colon goes with it, unless it ends a `::`.
        head, _, v4 = text.rpartition(":")
        quad = _parse_ipv4(v4)
        if quad is None or not head:
            return None
        tail = bytes(quad)
        text = head + ":" if head.endswith(":") else head
    want = 8 - len(tail) // 2

    def groups(part):
        if not part:
            return []
        out = []
        for g in part.split(":"):
            if not 1 <= len(g) <= 4 or any(c not in "0123456789abcdefABCDEF" for c in g):
                raise ValueError
            out.append(int(g, 16))
        return out

    try:
        if "::" in text:
            left, right = text.split("::")
            left, right = groups(left), groups(right)
            if len(left) + len(right) >= want:
                return None
            words = left + [0] * (want - len(left) - len(right)) + right
        else:
            words = groups(text)
            if len(words) != want:
                return None
    except ValueError:
        return None
    return b"".join(w.to_bytes(2, "big") for w in words) + tail


def inet_ntop(address_family, packed_ip):
    """``inet_ntop(address_family, packed_ip)``: the address as text (RFC 5952 form)."""
    packed = _bytes(packed_ip)
    if address_family == AF_INET:
        if len(packed) != 4:
            raise ValueError("invalid length of packed IP address string")
        return "%d.%d.%d.%d" % tuple(packed)
    if address_family != AF_INET6:
        raise ValueError("unknown address family %d" % address_family)
    if len(packed) != 16:
        raise ValueError("invalid length of packed IP address string")
    words = [int.from_bytes(packed[i : i + 2], "big") for i in range(0, 16, 2)]
    if words[:5] == [0] * 5 and words[5] == 0xFFFF:
        return "::ffff:" + "%d.%d.%d.%d" % tuple(packed[12:])
    # The longest run of two or more zero words becomes "::" (the first, on a tie).
    best, run = (0, 0), (0, 0)
    for i, w in enumerate(words + [1]):
        if w == 0:
            run = (run[0], run[1] + 1) if run[1] else (i, 1)
            if run[1] > best[1]:
                best = run
        else:
            run = (0, 0)
    start, length = best
    text = [format(w, "x") for w in words]
    if length < 2:
        return ":".join(text)
    return ":".join(text[:start]) + "::" + ":".join(text[start + length :])


__all__ = [name for name in dir() if not name.startswith("_")]
