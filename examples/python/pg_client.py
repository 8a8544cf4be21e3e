"""pg8000 (pure Python, from PyPI) talking to a real PostgreSQL server from a plugin.

`pg_client PORT SOCKET PASSWORD [CA]` connects over TCP to 127.0.0.1:PORT and over the Unix
socket SOCKET as user `sockbox` (scram-sha-256) and prints what each step returned, the same in
a plugin and under native CPython. With CA (a PEM certificate), the TCP connections are TLS,
verified against it (host name 127.0.0.1); without, and over the Unix socket (where PostgreSQL
offers no TLS), pg8000's default: TLS if the server offers it, unverified.

    sockbox python build pg_client.py -r pg_client.requirements.txt
    sockbox run --allow-connect 127.0.0.1:5432 --allow-unix '/run/postgresql/*' \
        pg_client.wasm 5432 /run/postgresql/.s.PGSQL.5432 PASSWORD

`tests/tests/python.rs` runs it against a PostgreSQL it starts, with and without TLS, and
compares its output with native CPython's.
"""

try:
    import sockbox  # in a plugin, first: socket.py on sockbox
except ImportError:
    sockbox = None  # native CPython, for comparison

import datetime
import io
import ssl
import sys

import pg8000.native


def session(**where):
    tls = None
    if len(sys.argv) > 4 and "host" in where:
        tls = ssl.create_default_context(cadata=sys.argv[4])
    return pg8000.native.Connection(
        "sockbox", database="postgres", timeout=30, ssl_context=tls, **where
    )


def main():
    port, unix_path, password = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    con = session(host="127.0.0.1", port=port, password=password)
    print("tls:", getattr(con._usock, "version", lambda: None)())
    print("version:", con.run("SHOW server_version_num")[0][0][:2])
    print("auth:", con.run("SHOW password_encryption")[0][0])

    con.run("CREATE TEMPORARY TABLE t (n int PRIMARY KEY, s text, at timestamptz)")
    at = datetime.datetime(2026, 12, 1, 12, 30, tzinfo=datetime.timezone.utc)
    for n in range(1000):
        con.run("INSERT INTO t VALUES (:n, :s, :at)", n=n, s=f"row {n}", at=at)
    print("inserted:", con.run("SELECT count(*), sum(n) FROM t")[0])
    print("types:", con.run("SELECT s, at, at::date FROM t WHERE n = 7")[0])

    out = io.BytesIO()
    con.run("COPY (SELECT n, s FROM t WHERE n < 3 ORDER BY n) TO STDOUT", stream=out)
    print("copy out:", out.getvalue())
    rows = "".join(f"{n}\tcopied {n}\n" for n in range(1000, 1500)).encode()
    con.run("COPY t (n, s) FROM STDIN", stream=io.BytesIO(rows))
    print("copy in:", con.run("SELECT count(*) FROM t WHERE s LIKE 'copied %'")[0][0])

    rows = con.run("SELECT g, md5(g::text) FROM generate_series(1, 200000) AS g")
    print("select:", len(rows), sum(r[0] for r in rows), rows[-1][1])

    listener = session(unix_sock=unix_path, password=password)
    listener.run("LISTEN sockbox")
    con.run("SELECT pg_notify('sockbox', 'hello from a plugin')")
    listener.run("SELECT 1")  # notifications arrive with the next reply
    print("notify:", [(c, p) for _, c, p in listener.notifications])
    print("unix:", listener.run("SELECT inet_server_addr() IS NULL")[0][0])

    try:
        con.run("SELECT * FROM no_such_table")
    except pg8000.native.DatabaseError as e:
        print("error:", e.args[0]["C"])
    listener.close()
    con.close()
    try:
        session(host="127.0.0.1", port=port, password="wrong")
    except pg8000.native.DatabaseError as e:
        print("bad password:", e.args[0]["C"])


if sockbox:
    Run = sockbox.command(main)
elif __name__ == "__main__":
    main()
