"""A plugin whose imports use sockets, as libraries do (urllib3 probes IPv6 with a socket at
import time): componentize-py runs this at build time, with no host. The calls must fail as
with no network, the build succeed, and sockets work once the plugin runs."""

import sockbox
import socket


def probe():
    try:
        s = socket.socket(socket.AF_INET6)
        s.bind(("::1", 0))
        s.close()
        return "ok"
    except OSError as e:
        return f"{type(e).__name__} {e.errno == __import__('errno').ENETDOWN}"


AT_BUILD = probe()
try:
    socket.getaddrinfo("localhost", 80)
    LOOKUP_AT_BUILD = "ok"
except OSError as e:
    LOOKUP_AT_BUILD = type(e).__name__
socket.setdefaulttimeout(2.5)
DEFAULT_AT_BUILD = socket.getdefaulttimeout()


def main():
    print("at-build:", AT_BUILD)
    print("lookup-at-build:", LOOKUP_AT_BUILD)
    print("default-at-build:", DEFAULT_AT_BUILD)
    print("default-at-run:", socket.getdefaulttimeout())
    print("at-run:", probe())


Run = sockbox.command(main)
