"""``_ssl`` for CPython's own ``ssl.py``, over the host's TLS (the WIT ``tls`` interface).

The TLS stack and the trust roots are the host's (rustls, Mozilla's roots plus the
embedder's), so a plugin ships neither. What works, over blocking or timeout sockets: clients
(``SSLContext.wrap_socket`` with ``server_hostname``, ``create_default_context``,
``load_verify_locations(cadata=/cafile=)``, ``check_hostname``, ``verify_mode``,
``set_alpn_protocols``, ``getpeercert(binary_form=True)``, ``version``, ``cipher``,
``selected_alpn_protocol``, ``unwrap``), so ``http.client.HTTPSConnection`` and
``urllib.request`` speak https; and servers (``wrap_socket(server_side=True)`` with
``load_cert_chain`` files, or ``sockbox.use_tls_credential(context, name)`` for a credential
the host holds); client certificates both ways (``load_cert_chain`` or
``use_tls_credential`` on a client context; ``verify_mode`` ``CERT_OPTIONAL``/``CERT_REQUIRED``
with ``load_verify_locations`` on a server context). What does not, raising
``NotImplementedError`` (never silently): ``capath``, encrypted keys, post-handshake
authentication. Non-blocking sockets work as in CPython (``do_handshake``, ``recv``, ``send``
raise ``SSLWantReadError``/``SSLWantWriteError``).
The constants are CPython's on Linux with OpenSSL 3.
"""

import base64 as _base64
import os as _os

from wit_world.imports import sockbox_socket_types as _t
from wit_world.imports import tls as _tls

from . import _socket

OPENSSL_VERSION = "rustls 0.23 (in the sockbox host)"
OPENSSL_VERSION_NUMBER = 0x30000000
OPENSSL_VERSION_INFO = (3, 0, 0, 0, 0)
_OPENSSL_API_VERSION = (3, 0, 0, 0, 0)
_DEFAULT_CIPHERS = "@SECLEVEL=2:ECDH+AESGCM:ECDH+CHACHA20:ECDH+AES:!aNULL:!eNULL"

HAS_SNI = HAS_ECDH = HAS_ALPN = HAS_TLSv1_2 = HAS_TLSv1_3 = True
HAS_NPN = HAS_SSLv2 = HAS_SSLv3 = HAS_TLSv1 = HAS_TLSv1_1 = HAS_PSK = HAS_PHA = False
HAS_TLS_UNIQUE = False
HAS_NEVER_CHECK_COMMON_NAME = True

# CPython's values on Linux (OpenSSL 3): ssl.py turns them into its enums.
_CONSTANTS = {
    "ALERT_DESCRIPTION_ACCESS_DENIED": 49, "ALERT_DESCRIPTION_BAD_CERTIFICATE": 42,
    "ALERT_DESCRIPTION_BAD_CERTIFICATE_HASH_VALUE": 114,
    "ALERT_DESCRIPTION_BAD_CERTIFICATE_STATUS_RESPONSE": 113,
    "ALERT_DESCRIPTION_BAD_RECORD_MAC": 20, "ALERT_DESCRIPTION_CERTIFICATE_EXPIRED": 45,
    "ALERT_DESCRIPTION_CERTIFICATE_REVOKED": 44, "ALERT_DESCRIPTION_CERTIFICATE_UNKNOWN": 46,
    "ALERT_DESCRIPTION_CERTIFICATE_UNOBTAINABLE": 111, "ALERT_DESCRIPTION_CLOSE_NOTIFY": 0,
    "ALERT_DESCRIPTION_DECODE_ERROR": 50, "ALERT_DESCRIPTION_DECOMPRESSION_FAILURE": 30,
    "ALERT_DESCRIPTION_DECRYPT_ERROR": 51, "ALERT_DESCRIPTION_HANDSHAKE_FAILURE": 40,
    "ALERT_DESCRIPTION_ILLEGAL_PARAMETER": 47, "ALERT_DESCRIPTION_INSUFFICIENT_SECURITY": 71,
    "ALERT_DESCRIPTION_INTERNAL_ERROR": 80, "ALERT_DESCRIPTION_NO_RENEGOTIATION": 100,
    "ALERT_DESCRIPTION_PROTOCOL_VERSION": 70, "ALERT_DESCRIPTION_RECORD_OVERFLOW": 22,
    "ALERT_DESCRIPTION_UNEXPECTED_MESSAGE": 10, "ALERT_DESCRIPTION_UNKNOWN_CA": 48,
    "ALERT_DESCRIPTION_UNKNOWN_PSK_IDENTITY": 115, "ALERT_DESCRIPTION_UNRECOGNIZED_NAME": 112,
    "ALERT_DESCRIPTION_UNSUPPORTED_CERTIFICATE": 43,
    "ALERT_DESCRIPTION_UNSUPPORTED_EXTENSION": 110, "ALERT_DESCRIPTION_USER_CANCELLED": 90,
    "CERT_NONE": 0, "CERT_OPTIONAL": 1, "CERT_REQUIRED": 2,
    "ENCODING_DER": 2, "ENCODING_PEM": 1,
    "HOSTFLAG_ALWAYS_CHECK_SUBJECT": 1, "HOSTFLAG_MULTI_LABEL_WILDCARDS": 8,
    "HOSTFLAG_NEVER_CHECK_SUBJECT": 32, "HOSTFLAG_NO_PARTIAL_WILDCARDS": 4,
    "HOSTFLAG_NO_WILDCARDS": 2, "HOSTFLAG_SINGLE_LABEL_SUBDOMAINS": 16,
    "OP_ALL": 2147483728, "OP_CIPHER_SERVER_PREFERENCE": 4194304, "OP_ENABLE_KTLS": 8,
    "OP_ENABLE_MIDDLEBOX_COMPAT": 1048576, "OP_IGNORE_UNEXPECTED_EOF": 128,
    "OP_LEGACY_SERVER_CONNECT": 4, "OP_NO_COMPRESSION": 131072,
    "OP_NO_RENEGOTIATION": 1073741824, "OP_NO_SSLv2": 0, "OP_NO_SSLv3": 33554432,
    "OP_NO_TICKET": 16384, "OP_NO_TLSv1": 67108864, "OP_NO_TLSv1_1": 268435456,
    "OP_NO_TLSv1_2": 134217728, "OP_NO_TLSv1_3": 536870912, "OP_SINGLE_DH_USE": 0,
    "OP_SINGLE_ECDH_USE": 0,
    "PROTOCOL_SSLv23": 2, "PROTOCOL_TLS": 2, "PROTOCOL_TLS_CLIENT": 16,
    "PROTOCOL_TLS_SERVER": 17, "PROTOCOL_TLSv1": 3, "PROTOCOL_TLSv1_1": 4,
    "PROTOCOL_TLSv1_2": 5,
    "PROTO_MAXIMUM_SUPPORTED": -1, "PROTO_MINIMUM_SUPPORTED": -2, "PROTO_SSLv3": 768,
    "PROTO_TLSv1": 769, "PROTO_TLSv1_1": 770, "PROTO_TLSv1_2": 771, "PROTO_TLSv1_3": 772,
    "SSL_ERROR_EOF": 8, "SSL_ERROR_INVALID_ERROR_CODE": 10, "SSL_ERROR_SSL": 1,
    "SSL_ERROR_SYSCALL": 5, "SSL_ERROR_WANT_CONNECT": 7, "SSL_ERROR_WANT_READ": 2,
    "SSL_ERROR_WANT_WRITE": 3, "SSL_ERROR_WANT_X509_LOOKUP": 4, "SSL_ERROR_ZERO_RETURN": 6,
    "VERIFY_ALLOW_PROXY_CERTS": 64, "VERIFY_CRL_CHECK_CHAIN": 12, "VERIFY_CRL_CHECK_LEAF": 4,
    "VERIFY_DEFAULT": 0, "VERIFY_X509_PARTIAL_CHAIN": 524288, "VERIFY_X509_STRICT": 32,
    "VERIFY_X509_TRUSTED_FIRST": 32768,
}
globals().update(_CONSTANTS)


class SSLError(OSError):
    """An error in the TLS layer."""

    library = None
    reason = None

    def __str__(self):
        return self.args[1] if len(self.args) > 1 else super().__str__()


class SSLZeroReturnError(SSLError):
    """The TLS session was closed cleanly (close_notify)."""


class SSLWantReadError(SSLError):
    """Non-blocking: more data must be read before the operation can go on."""


class SSLWantWriteError(SSLError):
    """Non-blocking: more data must be written before the operation can go on."""


class SSLSyscallError(SSLError):
    """A system error under the TLS layer."""


class SSLEOFError(SSLError):
    """The connection ended in violation of the protocol."""


class SSLCertVerificationError(SSLError, ValueError):
    """The peer's certificate was refused."""

    verify_code = 0
    verify_message = ""


for _cls in (SSLError, SSLZeroReturnError, SSLWantReadError, SSLWantWriteError,
             SSLSyscallError, SSLEOFError, SSLCertVerificationError):
    _cls.__module__ = "ssl"


# OpenSSL's X509_V_ERR_* numbers for the refusals the host names.
_VERIFY_CODES = (
    ("certificate signature failure", 7),
    ("certificate is not yet valid", 9),
    ("certificate has expired", 10),
    ("unable to get local issuer certificate", 20),
    ("certificate revoked", 23),
    ("unsupported certificate purpose", 26),
    ("Hostname mismatch", 62),
    ("IP address mismatch", 64),
)


def _tls_exception(e):
    """The ``ssl`` exception for the WIT's ``tls-error`` (``_socket._call`` raises it)."""
    code, message = e.code, e.message
    if code == _t.TlsErrorCode.CERT_VERIFICATION:
        # As CPython words it: "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed:
        # unable to get local issuer certificate", with OpenSSL's verify code.
        why = message.removeprefix("certificate verify failed: ")
        exc = SSLCertVerificationError(
            SSL_ERROR_SSL, f"[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: {why}"
        )
        exc.library = "SSL"
        exc.reason = "CERTIFICATE_VERIFY_FAILED"
        exc.verify_message = why
        exc.verify_code = next(
            (n for start, n in _VERIFY_CODES if why.startswith(start)), 0
        )
        return exc
    if code == _t.TlsErrorCode.ZERO_RETURN:
        return SSLZeroReturnError(SSL_ERROR_ZERO_RETURN, message)
    if code == _t.TlsErrorCode.EOF:
        return SSLEOFError(SSL_ERROR_EOF, message)
    return SSLError(SSL_ERROR_SSL, message)


_socket._tls_exception = _tls_exception
# Every call into the bindings goes through ``_socket``'s, so TLS errors come out as ``ssl``'s
# and nothing reaches the host while componentize-py builds the plugin.
_call = _socket._call


def _want_read():
    return SSLWantReadError(SSL_ERROR_WANT_READ, "The operation did not complete (read)")


def _want_write():
    return SSLWantWriteError(SSL_ERROR_WANT_WRITE, "The operation did not complete (write)")


def _nonblocking(fn, arg, want):
    """``fn(arg)``; when the socket (or the session) has nothing to do now, the
    ``SSLWant*Error`` CPython raises there (``want()``) instead of ``BlockingIOError``."""
    try:
        return _call(fn, arg)
    except BlockingIOError:
        pass
    raise want()


# Object identifiers ssl.py asks for by number or name (ssl.Purpose).
_OBJECTS = (
    (129, "serverAuth", "TLS Web Server Authentication", "1.3.6.1.5.5.7.3.1"),
    (130, "clientAuth", "TLS Web Client Authentication", "1.3.6.1.5.5.7.3.2"),
)


def txt2obj(txt, name=False):
    """``txt2obj(txt, name=False)``: (nid, short name, long name, OID) of an object."""
    for obj in _OBJECTS:
        if txt == obj[3] or (name and txt in (obj[1], obj[2])):
            return obj
    raise ValueError(f"unknown object '{txt}'")


def nid2obj(nid):
    """``nid2obj(nid)``."""
    for obj in _OBJECTS:
        if obj[0] == nid:
            return obj
    raise ValueError(f"unknown NID {nid}")


def RAND_status():
    """``RAND_status()``: the host's generator is always seeded."""
    return True


def RAND_add(string, entropy):
    """``RAND_add(string, entropy)``: nothing to add to."""


def RAND_bytes(n):
    """``RAND_bytes(n)``."""
    return _os.urandom(n)


def get_default_verify_paths():
    """``get_default_verify_paths()``: OpenSSL's names; the roots themselves are the host's."""
    return ("SSL_CERT_FILE", "/etc/ssl/cert.pem", "SSL_CERT_DIR", "/etc/ssl/certs")


class MemoryBIO:
    """``MemoryBIO``: a byte buffer (TLS over it, ``wrap_bio``, is not served yet)."""

    def __init__(self):
        self._data = bytearray()
        self.eof = False

    @property
    def pending(self):
        return len(self._data)

    def read(self, size=-1):
        size = len(self._data) if size < 0 else size
        out = bytes(self._data[:size])
        del self._data[:size]
        return out

    def write(self, data):
        if self.eof:
            raise SSLError(SSL_ERROR_SSL, "cannot write() after write_eof()")
        self._data += memoryview(data)
        return len(data)

    def write_eof(self):
        self.eof = True


class SSLSession:
    """``SSLSession``: sessions are not resumed (the host keeps none for the guest)."""


def _pem(cadata):
    """``cadata`` (PEM text, or DER bytes) as PEM bytes."""
    if isinstance(cadata, str):
        return cadata.encode("ascii")
    der = bytes(memoryview(cadata))
    b64 = _base64.encodebytes(der).replace(b"\n", b"")
    lines = [b64[i:i + 64] for i in range(0, len(b64), 64)]
    return b"-----BEGIN CERTIFICATE-----\n" + b"\n".join(lines) + b"\n-----END CERTIFICATE-----\n"


# Certificates, read as CPython's getpeercert() shows them (from the DER the host hands over).

_NAMES = {
    "2.5.4.3": "commonName", "2.5.4.4": "surname", "2.5.4.5": "serialNumber",
    "2.5.4.6": "countryName", "2.5.4.7": "localityName", "2.5.4.8": "stateOrProvinceName",
    "2.5.4.9": "streetAddress", "2.5.4.10": "organizationName",
    "2.5.4.11": "organizationalUnitName", "2.5.4.12": "title", "2.5.4.42": "givenName",
    "2.5.4.15": "businessCategory", "2.5.4.17": "postalCode",
    "2.5.4.97": "organizationIdentifier",
    "1.3.6.1.4.1.311.60.2.1.2": "jurisdictionStateOrProvinceName",
    "1.3.6.1.4.1.311.60.2.1.3": "jurisdictionCountryName",
    "0.9.2342.19200300.100.1.1": "userId",
    "0.9.2342.19200300.100.1.25": "domainComponent",
    "1.2.840.113549.1.9.1": "emailAddress",
}
_MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


def _der(data, at=0):
    """One DER element at ``at``: (tag, contents, the offset after it)."""
    tag, n = data[at], data[at + 1]
    at += 2
    if n & 0x80:
        size = n & 0x7F
        n = int.from_bytes(data[at:at + size], "big")
        at += size
    return tag, data[at:at + n], at + n


def _children(data):
    at, out = 0, []
    while at < len(data):
        tag, body, at = _der(data, at)
        out.append((tag, body))
    return out


def _oid(body):
    first = body[0]
    parts, value = [first // 40 if first < 80 else 2, first % 40 if first < 80 else first - 80], 0
    for b in body[1:]:
        value = (value << 7) | (b & 0x7F)
        if not b & 0x80:
            parts.append(value)
            value = 0
    return ".".join(map(str, parts))


def _name(body):
    rdns = []
    for _, rdn in _children(body):
        rdns.append(tuple(
            (_NAMES.get(_oid(_children(atv)[0][1]), _oid(_children(atv)[0][1])),
             _children(atv)[1][1].decode("utf-8", "replace"))
            for _, atv in _children(rdn)
        ))
    return tuple(rdns)


def _time(tag, body):
    text = body.decode("ascii")
    if tag == 0x17:  # UTCTime: two-digit years, 1950-2049
        year = int(text[:2])
        text = str(1900 + year if year >= 50 else 2000 + year) + text[2:]
    y, mo, d, h, mi, sec = text[:4], int(text[4:6]), int(text[6:8]), text[8:10], text[10:12], text[12:14]
    return f"{_MONTHS[mo - 1]} {d:2d} {h}:{mi}:{sec} {y} GMT"


def _decode_cert(der):
    """``getpeercert()``'s dictionary for a certificate in DER."""
    tbs = _children(_children(_children(der)[0][1])[0][1])
    version = 1
    if tbs[0][0] == 0xA0:
        version = _children(tbs[0][1])[0][1][0] + 1
        tbs = tbs[1:]
    serial, _, issuer, validity, subject = tbs[:5]
    not_before, not_after = _children(validity[1])
    cert = {
        "subject": _name(subject[1]),
        "issuer": _name(issuer[1]),
        "version": version,
        "serialNumber": serial[1].lstrip(b"\x00").hex().upper() or "00",
        "notBefore": _time(*not_before),
        "notAfter": _time(*not_after),
    }
    for tag, body in tbs[5:]:
        if tag != 0xA3:
            continue
        for _, ext in _children(_children(body)[0][1]):
            parts = _children(ext)
            if _oid(parts[0][1]) != "2.5.29.17":
                continue
            alt = []
            for gtag, value in _children(_children(parts[-1][1])[0][1]):
                if gtag == 0x82:
                    alt.append(("DNS", value.decode("ascii")))
                elif gtag == 0x81:
                    alt.append(("email", value.decode("ascii")))
                elif gtag == 0xA4:
                    alt.append(("DirName", _name(_children(value)[0][1])))
                elif gtag == 0x86:
                    alt.append(("URI", value.decode("ascii")))
                elif gtag == 0x87 and len(value) == 4:
                    alt.append(("IP Address", ".".join(map(str, value))))
                elif gtag == 0x87 and len(value) == 16:
                    alt.append(("IP Address", ":".join(
                        f"{int.from_bytes(value[i:i + 2], 'big'):X}" for i in range(0, 16, 2))))
            cert["subjectAltName"] = tuple(alt)
    return cert


class _SSLContext:
    """``_ssl._SSLContext``: what ``ssl.SSLContext`` subclasses; client settings kept here and
    handed to the host at each handshake."""

    def __new__(cls, protocol=None):
        if protocol is None:
            protocol = PROTOCOL_TLS
        if protocol not in (PROTOCOL_TLS, PROTOCOL_TLS_CLIENT, PROTOCOL_TLS_SERVER,
                            PROTOCOL_TLSv1_2):
            raise ValueError("invalid or unsupported protocol version %i" % protocol)
        self = super().__new__(cls)
        self._protocol = protocol
        client = protocol == PROTOCOL_TLS_CLIENT
        self._verify_mode = CERT_REQUIRED if client else CERT_NONE
        self._check_hostname = client
        self._options = OP_ALL | OP_NO_SSLv3 | OP_NO_COMPRESSION | OP_CIPHER_SERVER_PREFERENCE
        self._verify_flags = VERIFY_X509_TRUSTED_FIRST
        self._minimum_version = PROTO_MINIMUM_SUPPORTED
        self._maximum_version = PROTO_MAXIMUM_SUPPORTED
        self._host_flags = HOSTFLAG_NO_PARTIAL_WILDCARDS
        self._cadata = b""
        self._alpn = []
        # A server's certificate and key: ("pem", chain, key) or ("named", name).
        self._credential = None
        self._callbacks = {"msg": None, "sni": None, "keylog": None}
        return self

    def _setting(key, doc):
        def get(self):
            return self._callbacks[key]

        def put(self, value):
            self._callbacks[key] = value

        return property(get, put, doc=doc)

    _msg_callback = _setting("msg", "A callback for each TLS message (never called here).")
    sni_callback = _setting("sni", "A server-side SNI callback (no server side yet).")
    keylog_filename = _setting("keylog", "Key logging (the keys stay in the host).")
    del _setting

    protocol = property(lambda self: self._protocol)
    security_level = property(lambda self: 2)
    num_tickets = property(lambda self: 2)
    post_handshake_auth = property(lambda self: None)

    @property
    def options(self):
        return self._options

    @options.setter
    def options(self, value):
        self._options = int(value)

    @property
    def verify_flags(self):
        return self._verify_flags

    @verify_flags.setter
    def verify_flags(self, value):
        self._verify_flags = int(value)

    @property
    def verify_mode(self):
        return self._verify_mode

    @verify_mode.setter
    def verify_mode(self, value):
        value = int(value)
        if value not in (CERT_NONE, CERT_OPTIONAL, CERT_REQUIRED):
            raise ValueError("invalid value for verify_mode")
        if value == CERT_NONE and self._check_hostname:
            raise ValueError(
                "Cannot set verify_mode to CERT_NONE when check_hostname is enabled.")
        self._verify_mode = value

    @property
    def check_hostname(self):
        return self._check_hostname

    @check_hostname.setter
    def check_hostname(self, value):
        value = bool(value)
        if value and self._verify_mode == CERT_NONE:
            self._verify_mode = CERT_REQUIRED
        self._check_hostname = value

    @property
    def minimum_version(self):
        return self._minimum_version

    @minimum_version.setter
    def minimum_version(self, value):
        self._minimum_version = self._version(value)

    @property
    def maximum_version(self):
        return self._maximum_version

    @maximum_version.setter
    def maximum_version(self, value):
        self._maximum_version = self._version(value)

    @staticmethod
    def _version(value):
        value = int(value)
        if value not in (PROTO_MINIMUM_SUPPORTED, PROTO_MAXIMUM_SUPPORTED, PROTO_TLSv1_2,
                         PROTO_TLSv1_3):
            raise ValueError(f"Unsupported TLS/SSL version 0x{value & 0xFFFF:x}: the host "
                             "speaks TLS 1.2 and 1.3")
        return value

    def load_verify_locations(self, cafile=None, capath=None, cadata=None):
        """Trust anchors besides the host's roots: a PEM file, or PEM text / DER bytes."""
        if cafile is None and capath is None and cadata is None:
            raise TypeError("cafile, capath and cadata cannot be all omitted")
        if capath is not None:
            raise NotImplementedError("capath: give the certificates with cafile or cadata")
        if cafile is not None:
            with open(cafile, "rb") as f:
                self._cadata += f.read() + b"\n"
        if cadata is not None:
            self._cadata += _pem(cadata) + b"\n"

    def set_default_verify_paths(self):
        """The host's roots are always trusted."""

    def load_cert_chain(self, certfile, keyfile=None, password=None):
        """A certificate chain and key, PEM files (the key may be in ``certfile``): a server's,
        or the client certificate a client context sends when the server asks."""
        if password is not None:
            raise NotImplementedError("encrypted private keys: give the key unencrypted")
        with open(certfile, "rb") as f:
            chain = f.read()
        key = chain
        if keyfile is not None:
            with open(keyfile, "rb") as f:
                key = f.read()
        self._credential = ("pem", chain, key)

    def _use_credential(self, name):
        """Serves with the credential the host named ``name`` (``sockbox.use_tls_credential``)."""
        self._credential = ("named", str(name))

    def set_ciphers(self, cipherlist):
        # The host offers its own safe TLS 1.2/1.3 suites; OpenSSL cipher strings do not apply.
        self._ciphers = cipherlist

    def get_ciphers(self):
        return []

    def set_ecdh_curve(self, name):
        pass

    def _set_alpn_protocols(self, protos):
        """ALPN in wire form (length-prefixed), as ssl.py hands it over."""
        protos, names, i = bytes(protos), [], 0
        while i < len(protos):
            n = protos[i]
            names.append(protos[i + 1:i + 1 + n].decode("ascii"))
            i += 1 + n
        self._alpn = names

    def cert_store_stats(self):
        return {"x509": 0, "crl": 0, "x509_ca": 0}

    def get_ca_certs(self, binary_form=False):
        return []

    def session_stats(self):
        return {k: 0 for k in ("number", "connect", "connect_good", "connect_renegotiate",
                               "accept", "accept_good", "accept_renegotiate", "hits",
                               "misses", "timeouts", "cache_full")}

    def _wrap_socket(self, sock, server_side, server_hostname=None, owner=None, session=None):
        if server_side and self._credential is None:
            raise SSLError(SSL_ERROR_SSL, "a server needs a certificate: call load_cert_chain")
        return _SSLSocket(self, sock, server_hostname, owner, bool(server_side))

    def _wrap_bio(self, incoming, outgoing, server_side, server_hostname=None, owner=None,
                  session=None):
        if server_side and self._credential is None:
            raise SSLError(SSL_ERROR_SSL, "a server needs a certificate: call load_cert_chain")
        return _SSLObject(self, incoming, outgoing, bool(server_side), server_hostname, owner)

    def _verify(self):
        """The WIT's verify mode for this context's settings."""
        if self._verify_mode == CERT_NONE:
            return _t.VerifyMode.NONE
        if not self._check_hostname:
            return _t.VerifyMode.CHAIN_ONLY
        return _t.VerifyMode.FULL

    def _wit_credential(self):
        """The WIT's credential for ``load_cert_chain``'s or ``use_tls_credential``'s, if any."""
        if self._credential is None:
            return None
        kind, *rest = self._credential
        if kind == "named":
            return _t.Credential_Named(rest[0])
        return _t.Credential_Pem(_t.PemCredential(chain=rest[0], key=rest[1]))

    def _server_options(self):
        client_auth = {
            CERT_NONE: _t.ClientAuth.NONE,
            CERT_OPTIONAL: _t.ClientAuth.OPTIONAL,
            CERT_REQUIRED: _t.ClientAuth.REQUIRED,
        }[self._verify_mode]
        return _t.ServerOptions(
            credential=self._wit_credential(),
            alpn=list(self._alpn),
            client_auth=client_auth,
            client_roots_pem=self._cadata or None,
            versions=self._versions(),
        )

    def _client_options(self, name):
        return _t.ClientOptions(
            server_name=name,
            alpn=list(self._alpn),
            verify=self._verify(),
            extra_roots_pem=self._cadata or None,
            credential=self._wit_credential(),
            versions=self._versions(),
        )

    def _versions(self):
        """``minimum_version`` and ``maximum_version`` as the WIT's."""
        low, high = _t.TlsVersion.TLS12, _t.TlsVersion.TLS13
        if self._minimum_version == PROTO_TLSv1_3:
            low = _t.TlsVersion.TLS13
        if self._maximum_version == PROTO_TLSv1_2:
            high = _t.TlsVersion.TLS12
        return _t.TlsVersions(min=low, max=high)


class _SSLSocket:
    """``_ssl._SSLSocket``: the host's TLS session over the guest socket ``sock``."""

    def __init__(self, context, sock, server_hostname, owner, server_side=False):
        self.context = context
        self._sock = sock
        self.server_hostname = server_hostname
        self.owner = owner
        self.server_side = server_side
        self.session = None
        self.session_reused = False
        self._tls = None
        self._handshaking = None

    def do_handshake(self):
        """The handshake, within the socket's timeout; on a non-blocking socket as far as it
        goes now, then ``SSLWantReadError``/``SSLWantWriteError`` (call again when ready)."""
        if self._tls is not None:
            return
        if self._handshaking is None:
            ctx = self.context
            if self.server_side:
                new, options = _tls.TlsSocket.server, ctx._server_options()
            else:
                name = self.server_hostname
                if name is None:
                    name = self._sock.getpeername()[0]
                new, options = _tls.TlsSocket.client, ctx._client_options(name)
            self._handshaking = _call(new, self._sock._handle(), options)
        session = self._handshaking
        try:
            _call(session.handshake)
        except BlockingIOError:
            raise _want_write() if session.wants_write() else _want_read() from None
        self._tls, self._handshaking = session, None

    def _session(self):
        if self._tls is None:
            raise ValueError("handshake not done yet")
        return self._tls

    def read(self, len=1024, buffer=None):
        size = len
        if buffer is not None:
            view = memoryview(buffer).cast("B")
            size = min(len or view.nbytes, view.nbytes)
        data = self._recv(size)
        if buffer is not None:
            view[:_len(data)] = data
            return _len(data)
        return data

    def _recv(self, size):
        return _nonblocking(self._session().recv, size, _want_read)

    def write(self, data):
        return _nonblocking(self._session().send, bytes(memoryview(data)), _want_write)

    def pending(self):
        return 0 if self._tls is None else self._tls.pending()

    def getpeercert(self, binary_form=False):
        if self._tls is None:
            raise ValueError("handshake not done yet")
        der = self._tls.peer_certificate()
        if binary_form:
            return der
        if der is None:
            return None
        if self.context._verify_mode == CERT_NONE:
            return {}
        return _decode_cert(der)

    def cipher(self):
        if self._tls is None:
            return None
        name = self._tls.cipher()
        return (name, self._tls.version(), 128 if "128" in name else 256)

    def shared_ciphers(self):
        return None

    def compression(self):
        return None

    def version(self):
        return None if self._tls is None else self._tls.version()

    def selected_alpn_protocol(self):
        return None if self._tls is None else self._tls.alpn_protocol()

    def selected_npn_protocol(self):
        return None

    def get_channel_binding(self, cb_type="tls-unique"):
        return None

    def verify_client_post_handshake(self):
        raise NotImplementedError("post-handshake authentication is not supported")

    def shutdown(self):
        tls, self._tls = self._session(), None
        _call(_tls.TlsSocket.unwrap, tls)
        return self._sock


class _SSLObject(_SSLSocket):
    """``_ssl._SSLSocket`` over memory BIOs (``SSLContext.wrap_bio``, asyncio's TLS): the host's
    ``tls-engine``; ciphertext moves between it and the BIOs around every call, and a call that
    needs more of it raises ``SSLWantReadError``."""

    def __init__(self, context, incoming, outgoing, server_side, server_hostname, owner):
        super().__init__(context, None, server_hostname, owner, server_side)
        self._incoming = incoming
        self._outgoing = outgoing
        self._fed_eof = False
        if server_side:
            self._engine = _call(_tls.TlsEngine.server, context._server_options())
        else:
            if server_hostname is None:
                raise ValueError("server_hostname is needed for a client over memory BIOs")
            self._engine = _call(_tls.TlsEngine.client, context._client_options(server_hostname))

    def _pump(self):
        """Feeds what arrived, then hands on what is to send (also when feeding failed: the
        alert goes out)."""
        data = self._incoming.read()
        try:
            if data:
                _call(self._engine.feed, data)
            if self._incoming.eof and not self._fed_eof:
                self._fed_eof = True
                self._engine.feed_eof()
        finally:
            self._flush()

    def _flush(self):
        out = self._engine.take()
        if out:
            self._outgoing.write(out)

    def do_handshake(self):
        self._pump()
        if self._engine.handshaking():
            if self._fed_eof:
                raise SSLEOFError(SSL_ERROR_EOF, "EOF occurred in violation of protocol")
            raise _want_read()
        self._tls = self._engine

    def _recv(self, size):
        self._pump()
        try:
            return _nonblocking(self._engine.read, size, _want_read)
        finally:
            self._flush()

    def write(self, data):
        n = _call(self._engine.write, bytes(memoryview(data)))
        self._flush()
        return n

    def shutdown(self):
        self._engine.close()
        self._pump()
        if not self._engine.peer_closed():
            raise _want_read()
        return None


_len = len
