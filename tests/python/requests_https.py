"""requests (with urllib3, pure Python, from PyPI) over https from a plugin, on the host's TLS.

`requests_https PORT CAFILE` GETs from a native HTTPS server on `localhost:PORT`: verified
against CAFILE (a file the host mounts), then against requests' own bundle (certifi's file,
inside the plugin), which does not vouch for it.
"""

import sockbox  # first: socket.py and ssl.py on sockbox

import sys

import requests


def main():
    port, cafile = int(sys.argv[1]), sys.argv[2]
    url = f"https://localhost:{port}/hello"
    r = requests.get(url, verify=cafile, timeout=10)
    print("verified:", r.status_code, r.text.strip())
    try:
        requests.get(url, timeout=10)
    except requests.exceptions.SSLError as e:
        print("certifi:", "CERTIFICATE_VERIFY_FAILED" in str(e))


Run = sockbox.command(main)
