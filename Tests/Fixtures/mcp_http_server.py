"""A real MCP server over Streamable HTTP (the Python `mcp` package), for toolformerd's tests.

Listens on 127.0.0.1 (MCP_TEST_PORT, or a free port), writes the port to STATE/port, and
answers only requests that carry `Authorization: Bearer s3cret-token`. STATE is
MCP_TEST_STATE_DIR; `runs` gets a line per `count` call, `cancelled` one per cancelled `slow`.
`grow` adds a tool and says so with notifications/tools/list_changed, which this SDK sends only
on the client's GET stream (it is not tied to the request).
MCP_TEST_JSON=1 makes it answer with application/json instead of text/event-stream.
"""
import os
import socket

import anyio
import uvicorn
from mcp.server.mcpserver import Context, MCPServer

state = os.environ["MCP_TEST_STATE_DIR"]


def append(name: str, line: str) -> int:
    path = os.path.join(state, name)
    with open(path, "a") as f:
        f.write(line + "\n")
    with open(path) as f:
        return len(f.read().splitlines())


server = MCPServer("toolformer-http-test")


@server.tool()
def echo(text: str) -> str:
    """Returns its text."""
    return text


@server.tool()
def count() -> str:
    """Counts its runs."""
    return f"run {append('runs', 'run')}"


@server.tool()
async def slow(ms: int) -> str:
    """Sleeps ms milliseconds."""
    try:
        await anyio.sleep(ms / 1000)
    except anyio.get_cancelled_exc_class():
        append("cancelled", "slow task cancelled")
        raise
    return f"slept {ms} ms"


@server.tool()
async def grow(name: str, ctx: Context) -> str:
    """Adds a tool called name."""

    def added() -> str:
        return f"I am {name}"

    server.add_tool(added, name=name, description="Added at run time.")
    await ctx.session.send_tool_list_changed()
    return f"added {name}"


app = server.streamable_http_app(json_response=os.environ.get("MCP_TEST_JSON") == "1")


async def checked(scope, receive, send):
    if scope["type"] == "http":
        headers = dict(scope["headers"])
        if headers.get(b"authorization") != b"Bearer s3cret-token":
            await send({"type": "http.response.start", "status": 401, "headers": [(b"content-type", b"text/plain")]})
            await send({"type": "http.response.body", "body": b"missing or wrong token"})
            return
    await app(scope, receive, send)


sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.bind(("127.0.0.1", int(os.environ.get("MCP_TEST_PORT", "0"))))
sock.listen(64)
with open(os.path.join(state, "port.tmp"), "w") as f:
    f.write(str(sock.getsockname()[1]))
os.rename(os.path.join(state, "port.tmp"), os.path.join(state, "port"))
uvicorn.Server(uvicorn.Config(checked, log_level="warning", lifespan="on")).run(sockets=[sock])
