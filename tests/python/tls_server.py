"""CPython's own ssl.py serving TLS from a plugin, over the host's TLS.

`tls_server` accepts one connection on the preopened listener and serves it with the
credential the host named `site` (its key never enters the plugin); `tls_server CERT KEY`
with PEM files instead. Echoes one line, then ends the session (close_notify both ways).
"""

import sockbox  # first: socket.py and ssl.py on sockbox

import ssl
import sys


def main():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    if len(sys.argv) == 3:
        ctx.load_cert_chain(sys.argv[1], sys.argv[2])
    else:
        sockbox.use_tls_credential(ctx, "site")
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    listener, _ = sockbox.preopened_sockets()[0]
    conn, _ = listener.accept()
    conn.settimeout(10)
    with ctx.wrap_socket(conn, server_side=True) as tls:
        print("alpn:", tls.selected_alpn_protocol())
        print("version:", tls.version())
        line = b""
        while not line.endswith(b"\n"):
            chunk = tls.recv(1024)
            if not chunk:
                break
            line += chunk
        tls.sendall(line)
        print("got:", line.decode().strip())
        tls.unwrap()
        print("unwrapped: ok")


Run = sockbox.command(main)
