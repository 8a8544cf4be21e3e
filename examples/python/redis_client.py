"""redis-py (pure Python, from PyPI) talking to a real redis-server from a plugin.

`redis_client PORT SOCKET` prints what each command returned, over TCP to 127.0.0.1:PORT and
then over the Unix socket SOCKET.

    sockbox python build redis_client.py -r redis_client.requirements.txt
    sockbox run --allow-connect 127.0.0.1:6379 --allow-unix /run/redis/redis.sock \
        redis_client.wasm 6379 /run/redis/redis.sock

`tests/tests/python.rs` runs it against a redis-server it starts.
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
    local = redis.Redis(unix_socket_path=sys.argv[2], socket_timeout=10)
    print("unix:", local.get("sockbox").decode(), [int(x) for x in local.lrange("items", 0, 2)])
    local.close()


Run = sockbox.command(main)
