"""redis-py (pure Python, from PyPI) talking to a real redis-server from a plugin.

`redis_client PORT` prints what each command returned.
"""

import sockbox  # first: socket.py on sockbox

import sys

import redis


def main():
    port = int(sys.argv[1])
    r = redis.Redis(host="127.0.0.1", port=port, socket_timeout=10)
    print("ping:", r.ping())
    r.set("sockbox", "works")
    print("get:", r.get("sockbox").decode())
    big = bytes(range(256)) * 8192  # 2 MiB: replies that arrive in many reads
    r.set("big", big)
    print("big:", r.get("big") == big)
    pipe = r.pipeline()
    for i in range(100):
        pipe.incr("counter")
    print("pipeline:", pipe.execute()[-1])
    print("list:", r.rpush("items", *range(10)), [int(x) for x in r.lrange("items", 0, 2)])
    print("missing:", r.get("no-such-key"))
    try:
        r.incr("sockbox")
    except redis.ResponseError as e:
        print("error:", type(e).__name__)
    r.close()


Run = sockbox.command(main)
