"""http.client, urllib.request and requests talking to a real nginx from a plugin.

`http_clients PORT` prints one line per check: keep-alive, gzip with chunked transfer coding,
HEAD, Range, POST, urllib, and requests streaming a large file over a kept-alive session.

    sockbox python build http_clients.py -r http_clients.requirements.txt
    sockbox run --allow-connect 127.0.0.1:8080 http_clients.wasm 8080

`tests/tests/python.rs` runs it against an nginx it starts, serving the files it expects.
"""

import sockbox  # first: socket.py on sockbox

import gzip
import hashlib
import http.client
import sys
import urllib.request

import requests


def digest(data):
    return hashlib.sha256(data).hexdigest()[:16]


def main():
    port = int(sys.argv[1])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)

    conn.request("GET", "/big.bin")
    resp = conn.getresponse()
    print("big:", resp.status, digest(resp.read()))
    first = conn.sock
    conn.request("GET", "/hello.txt")
    resp = conn.getresponse()
    print("hello:", resp.status, resp.read().decode().strip())
    print("keep-alive:", conn.sock is first)

    conn.request("GET", "/text.txt", headers={"Accept-Encoding": "gzip"})
    resp = conn.getresponse()
    body = resp.read()
    print(
        "gzip:",
        resp.getheader("Content-Encoding"),
        resp.getheader("Transfer-Encoding"),
        digest(gzip.decompress(body)),
    )

    conn.request("HEAD", "/big.bin")
    resp = conn.getresponse()
    print("head:", resp.status, resp.getheader("Content-Length"), len(resp.read()))

    conn.request("GET", "/big.bin", headers={"Range": "bytes=1000-1999"})
    resp = conn.getresponse()
    print("range:", resp.status, resp.getheader("Content-Range"), digest(resp.read()))

    conn.request("POST", "/post", body=b"x" * 100_000, headers={"Content-Type": "text/plain"})
    resp = conn.getresponse()
    print("post:", resp.status, resp.read().decode().strip())
    print("still-alive:", conn.sock is first)
    conn.close()

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/hello.txt", timeout=10) as r:
        print("urllib:", r.status, r.read().decode().strip())

    with requests.Session() as session:
        h = hashlib.sha256()
        with session.get(f"http://127.0.0.1:{port}/big.bin", stream=True, timeout=10) as r:
            for chunk in r.iter_content(64 * 1024):
                h.update(chunk)
        again = session.get(f"http://127.0.0.1:{port}/hello.txt", timeout=10)
        print("requests:", r.status_code, h.hexdigest()[:16], again.text.strip())


Run = sockbox.command(main)
