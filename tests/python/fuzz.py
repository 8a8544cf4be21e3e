"""Throws random arguments at every `_socket` function and `_socket.socket` method: wrong types,
huge and negative numbers, odd floats, lone surrogates, NULs, long text, odd tuples, closed and
aliased descriptors. Whatever a call does, only Python exceptions may come out: a trap would end
the plugin before it prints `survived`. Run under a policy that allows nothing, so no call
reaches the network; every socket is kept non-blocking so no call waits.

`fuzz SEED CALLS` prints the number of calls, the exception types seen, and `survived: yes`.
"""

import sockbox

import _socket
import inspect
import random
import sys


def values(pool):
    """The argument values: awkward on purpose."""
    ints = [0, 1, -1, 2, 5, 10, 17, 41, 255, 65535, 65536, 2**31 - 1, 2**31, -(2**31) - 1,
            2**32, 2**63, -(2**63) - 1, 2**64, 2**70, -(2**70), True]
    floats = [0.0, -0.0, 0.5, 1e-12, 1e300, -1.0, float("nan"), float("inf"), float("-inf")]
    texts = ["", "x", "localhost", "127.0.0.1", "::1", "\ud800", "a\0b", "x" * 5000, "é.test",
             "%", "fe80::1%lo", "0x7f.1", "<broadcast>", "/tmp/sockbox-fuzz.sock"]
    blobs = [b"", b"\0", b"x" * 70000, bytearray(b"buf"), memoryview(b"view"), b"\0abstract"]
    shapes = [(), ("127.0.0.1",), ("127.0.0.1", 80), ("::1", 80, 2**20, -1), ("::1", 80, 0, 0, 9),
              (None, None), ([], {}), ("127.0.0.1", "80"), ((1, 2), 3), [b"a", b"b"],
              [(1, 1, b"\0\0\0\0")], [(1, 1, b"\xff" * 64)], [(0, 0, 0)]]
    others = [None, object(), [], {}, sys, lambda: 0, Ellipsis]
    fds = [s.fileno() for s in pool] + [2**20, 2**20 + 7, 3, -5]
    return ints + floats + texts + blobs + shapes + others + fds + pool


def arity(target, rng):
    """How many arguments to pass: mostly what the signature takes, sometimes anything."""
    try:
        params = list(inspect.signature(target).parameters.values())
    except (TypeError, ValueError):
        params = None
    if params is None or rng.random() < 0.1:
        return rng.randrange(0, 6)
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    required = sum(1 for p in positional if p.default is p.empty)
    return rng.randint(required, len(positional))


def calm(pool):
    """Every socket back to non-blocking, and new ones too, so no call can wait."""
    _socket.setdefaulttimeout(0)
    for s in pool:
        try:
            s.settimeout(0)
        except Exception:
            pass


def short(value):
    text = repr(value)
    return text if len(text) < 40 else text[:37] + "..."


def main():
    seed, calls = int(sys.argv[1]), int(sys.argv[2])
    rng = random.Random(seed)
    _socket.setdefaulttimeout(0)
    pool = [_socket.socket(), _socket.socket(_socket.AF_INET6, _socket.SOCK_DGRAM)]
    pool += list(_socket.socketpair())
    pool.append(_socket.socket(fileno=pool[2].fileno()))  # an alias of one end
    functions = [
        getattr(_socket, name)
        for name in sorted(dir(_socket))
        if not name.startswith("_")
        and callable(getattr(_socket, name))
        and not (isinstance(getattr(_socket, name), type) and issubclass(getattr(_socket, name), BaseException))
    ]
    methods = [name for name in sorted(dir(_socket.socket)) if not name.startswith("_")]
    seen = {}
    made = 0
    for _ in range(calls):
        calm(pool)
        choices = values(pool)
        if rng.random() < 0.6:
            target = getattr(rng.choice(pool), rng.choice(methods))
        else:
            target = rng.choice(functions)
        args = [rng.choice(choices) for _ in range(arity(target, rng))] if callable(target) else []
        try:
            result = target(*args) if callable(target) else target
        except Exception as e:
            name = type(e).__name__
            seen[name] = seen.get(name, 0) + 1
            if isinstance(e, (AttributeError, KeyError, IndexError, NameError, AssertionError)):
                # Not what CPython's C module raises: worth a look.
                print(f"odd: {getattr(target, '__name__', target)}{tuple(map(short, args))}: {name}: {e}")
            continue
        made += 1
        # Keep new sockets around (closed, aliased or not): later calls get them too.
        if isinstance(result, _socket.socket) and len(pool) < 24:
            pool.append(result)
        elif isinstance(result, tuple) and result and isinstance(result[0], _socket.socket):
            pool.extend(s for s in result if isinstance(s, _socket.socket))
    calm(pool)
    print("calls:", calls)
    print("returned:", made)
    print("exceptions:", ", ".join(f"{k} {v}" for k, v in sorted(seen.items())))
    for s in pool:
        try:
            s.close()
        except OSError:
            pass
    print("survived: yes")


Run = sockbox.command(main)
