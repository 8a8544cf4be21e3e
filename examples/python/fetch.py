"""fetch: print the status and body of an http:// or https:// URL, with Python's own
urllib.request (https over the host's TLS, verified against the host's roots; `--tls-ca FILE`
adds one).

    sockbox run --allow-connect localhost:8000 fetch.wasm http://localhost:8000/
    sockbox run --allow-connect example.com:443 fetch.wasm https://example.com/

The policy names the host: the plugin may look up `localhost` and connect to what it resolved
to, on port 8000, and nothing else.
"""

import sockbox  # first: the socket module below is sockbox's

import sys
import urllib.request


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: fetch URL")
    with urllib.request.urlopen(sys.argv[1], timeout=30) as resp:
        print(resp.status, resp.reason)
        sys.stdout.write(resp.read().decode("utf-8", "replace"))


Run = sockbox.command(main)
