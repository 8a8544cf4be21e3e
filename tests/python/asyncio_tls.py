"""asyncio's TLS (ssl.SSLContext.wrap_bio, over the host's tls-engine) from a plugin.

`asyncio_tls client PORT CA_PEM`: open_connection(ssl=...) GETs from a native HTTPS server.
`asyncio_tls server`: start_server(ssl=...) on the preopened listener, with the credential
the host named `site`, echoes one line to one client. `asyncio_tls many N`: the same for N
clients at once, each answered after a pause, printing how many it served and the most it
served at one time.
"""

import sockbox  # first: socket.py and ssl.py on sockbox

import asyncio
import ssl
import sys


async def close(writer):
    """Closes a TLS stream; a peer that went first without close_notify is no error here."""
    writer.close()
    try:
        await writer.wait_closed()
    except (ssl.SSLError, ConnectionError):
        pass


async def client(port, ca):
    ctx = ssl.create_default_context(cadata=ca)
    ctx.set_alpn_protocols(["http/1.1"])
    # A name: asyncio resolves it in its default executor (sockbox runs it inline).
    reader, writer = await asyncio.open_connection("localhost", port, ssl=ctx)
    tls = writer.get_extra_info("ssl_object")
    print("version:", tls.version())
    print("alpn:", tls.selected_alpn_protocol())
    writer.write(b"GET /hello HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    await writer.drain()
    response = await reader.read()
    print("response:", response.split(b"\r\n")[0].decode(), response.split(b"\r\n\r\n")[1].decode().strip())
    await close(writer)


async def server():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sockbox.use_tls_credential(ctx, "site")
    ctx.set_alpn_protocols(["http/1.1"])
    listener, _ = sockbox.preopened_sockets()[0]
    done = asyncio.Event()

    async def handle(reader, writer):
        line = await reader.readline()
        print("got:", line.decode().strip())
        print("alpn:", writer.get_extra_info("ssl_object").selected_alpn_protocol())
        writer.write(line)
        await writer.drain()
        await close(writer)
        done.set()

    srv = await asyncio.start_server(handle, sock=listener, ssl=ctx)
    async with srv:
        await asyncio.wait_for(done.wait(), 20)
    print("served: ok")


async def many(n):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sockbox.use_tls_credential(ctx, "site")
    listener, _ = sockbox.preopened_sockets()[0]
    state = {"served": 0, "active": 0, "most": 0}
    done = asyncio.Event()

    async def handle(reader, writer):
        state["active"] += 1
        state["most"] = max(state["most"], state["active"])
        line = await reader.readline()
        await asyncio.sleep(0.2)  # the others' sessions go on meanwhile
        writer.write(line)
        await writer.drain()
        await close(writer)
        state["active"] -= 1
        state["served"] += 1
        if state["served"] == n:
            done.set()

    srv = await asyncio.start_server(handle, sock=listener, ssl=ctx)
    async with srv:
        await asyncio.wait_for(done.wait(), 60)
    print("served:", state["served"])
    print("at once:", state["most"])


def main():
    if sys.argv[1] == "client":
        asyncio.run(client(int(sys.argv[2]), sys.argv[3]))
    elif sys.argv[1] == "many":
        asyncio.run(many(int(sys.argv[2])))
    else:
        asyncio.run(server())


Run = sockbox.command(main)
