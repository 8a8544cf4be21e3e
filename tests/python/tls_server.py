"""CPython's own ssl.py serving TLS from a plugin, over the host's TLS.

`tls_server` accepts one connection on the preopened listener and serves it with the
credential the host named `site` (its key never enters the plugin); `tls_server CERT KEY`
with PEM files instead. Echoes one line, then ends the session (close_notify both ways).
`tls_server require CA` serves as `site` and requires a client certificate CA signed (printing
its common name, or `refused` and the exception's type). `tls_server client PORT CA CERT KEY`
is a client instead: it connects to localhost:PORT with the certificate CERT and prints the
line the server sends.
"""

import sockbox  # first: socket.py and ssl.py on sockbox

import socket
import ssl
import sys


def read_line(tls):
    """One line (or what came before the end of the session)."""
    line = b""
    while not line.endswith(b"\n"):
        chunk = tls.recv(1024)
        if not chunk:
            break
        line += chunk
    return line


def client(port, ca, cert, key):
    ctx = ssl.create_default_context(cafile=ca)
    ctx.load_cert_chain(cert, key)
    with socket.create_connection(("localhost", port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
            print("answer:", read_line(tls).decode().strip())


def main():
    if sys.argv[1:2] == ["client"]:
        return client(int(sys.argv[2]), *sys.argv[3:6])
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    if len(sys.argv) == 3 and sys.argv[1] != "require":
        ctx.load_cert_chain(sys.argv[1], sys.argv[2])
    else:
        sockbox.use_tls_credential(ctx, "site")
    if sys.argv[1:2] == ["require"]:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(cafile=sys.argv[2])
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    listener, _ = sockbox.preopened_sockets()[0]
    conn, _ = listener.accept()
    conn.settimeout(10)
    try:
        tls = ctx.wrap_socket(conn, server_side=True)
    except ssl.SSLError as e:
        print("refused:", type(e).__name__)
        return
    with tls:
        if ctx.verify_mode == ssl.CERT_REQUIRED:
            subject = dict(x[0] for x in tls.getpeercert()["subject"])
            print("peer:", subject["commonName"])
        print("alpn:", tls.selected_alpn_protocol())
        print("version:", tls.version())
        line = read_line(tls)
        tls.sendall(line)
        print("got:", line.decode().strip())
        tls.unwrap()
        print("unwrapped: ok")


Run = sockbox.command(main)
