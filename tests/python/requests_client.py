"""requests (with urllib3, idna, charset_normalizer, certifi: pure Python, from PyPI) in a
plugin. urllib3 opens a socket at import time (`HAS_IPV6`), while componentize-py builds the
plugin: that must not end the build. `requests_client PORT` GETs from a native HTTP server.
"""

import sockbox  # first: socket.py on sockbox

import sys

import requests


def main():
    port = int(sys.argv[1])
    resp = requests.get(f"http://127.0.0.1:{port}/hello", headers={"X-Guest": "requests"}, timeout=10)
    print("status:", resp.status_code)
    print("body:", resp.text)


Run = sockbox.command(main)
