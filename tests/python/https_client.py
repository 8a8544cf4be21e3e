"""CPython's own ssl.py, http.client and urllib.request speaking https from a plugin, over the
host's TLS.

`https_client PORT CA_PEM` GETs from a native HTTPS server whose certificate CA_PEM signed, and
prints what the session says of itself; then the refusals: the host's roots alone, a wrong
name.
"""

import sockbox  # first: socket.py and ssl.py on sockbox

import http.client
import socket
import ssl
import sys
import urllib.error
import urllib.request


def main():
    port, ca = int(sys.argv[1]), sys.argv[2]
    ctx = ssl.create_default_context(cadata=ca)
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    conn = http.client.HTTPSConnection("localhost", port, context=ctx, timeout=10)
    conn.request("GET", "/hello")
    # (Asked before the response: http.client closes the socket once it says Connection: close.)
    print("version:", conn.sock.version())
    print("alpn:", conn.sock.selected_alpn_protocol())
    print("cert:", len(conn.sock.getpeercert(binary_form=True)))
    print("cipher:", conn.sock.cipher()[1])
    print("peercert:", repr(conn.sock.getpeercert()))
    resp = conn.getresponse()
    print("status:", resp.status, resp.read().decode().strip())
    conn.close()

    url = f"https://localhost:{port}/hello"
    with urllib.request.urlopen(url, context=ctx, timeout=10) as r:
        print("urllib:", r.status, r.read().decode().strip())

    try:
        urllib.request.urlopen(url, timeout=10)
    except urllib.error.URLError as e:
        print("untrusted:", type(e.reason).__name__, e.reason.reason)
        print("untrusted-why:", e.reason.verify_code, e.reason.verify_message)

    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        ctx.wrap_socket(raw, server_hostname="other.example")
    except ssl.SSLCertVerificationError as e:
        print("wrong-name:", type(e).__name__, isinstance(e, ValueError))
        print("wrong-name-why:", e.verify_code, e.verify_message)
        print("wrong-name-str:", e)
    raw.close()

    lenient = ssl.create_default_context(cadata=ca)
    lenient.check_hostname = False
    with lenient.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10)) as s:
        s.sendall(b"GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        print("no-hostname-check:", s.recv(12).decode())
        print("pending:", s.pending() > 0)  # the rest of the record, decrypted

    older = ssl.create_default_context(cadata=ca)
    older.maximum_version = ssl.TLSVersion.TLSv1_2
    with older.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10),
                           server_hostname="localhost") as s:
        print("maximum 1.2:", s.version())


Run = sockbox.command(main)
