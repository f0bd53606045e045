#!/usr/bin/env python3
"""A real MCP client (the `mcp` package from PyPI) against `toolformerctl mcp`.

Run by MCPClientTests with a daemon already listening:

    bridge_client.py TOOLFORMERCTL SOCKET CONFIG EXPECTED_TOOLS

It starts `TOOLFORMERCTL mcp --socket SOCKET` as a stdio MCP server, initializes, lists every
tool over the page boundary, calls one with a progress token, then appends a tool to CONFIG,
asks the daemon to reload over its socket, and waits for notifications/tools/list_changed.
Prints one line per check and closes with "N passed, N failed"; exits 1 on any failure.
"""

import json
import socket
import sys

import anyio
import mcp.types as types
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

CTL, SOCKET, CONFIG, EXPECTED_TOOLS = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
results = {"passed": 0, "failed": 0}


def check(name, condition, detail=""):
    results["passed" if condition else "failed"] += 1
    print(("ok   " if condition else "FAIL ") + name + ("" if condition else f": {detail}"), flush=True)


def method_of(message):
    """The method of a notification as the client hands it over (a model, or a root model)."""
    for candidate in (message, getattr(message, "root", None)):
        method = getattr(candidate, "method", None)
        if isinstance(method, str):
            return method
    return None


def raw_call(method):
    """One request over a plain socket connection, as toolformerctl would send it."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(20)
        conn.connect(SOCKET)
        conn.sendall(json.dumps({"jsonrpc": "2.0", "id": 1, "method": method}).encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
    return json.loads(data)


async def list_all(session):
    names, pages, cursor = [], 0, None
    while True:
        params = types.PaginatedRequestParams(cursor=cursor) if cursor else None
        page = await session.list_tools(params=params)
        pages += 1
        names += [tool.name for tool in page.tools]
        cursor = page.next_cursor
        if not cursor or pages > 20:
            return names, pages


async def main():
    list_changed = anyio.Event()
    notifications = []

    async def on_message(message):
        if isinstance(message, Exception):
            notifications.append(("exception", repr(message)))
            return
        method = method_of(message)
        notifications.append(method)
        if method == "notifications/tools/list_changed":
            list_changed.set()

    server = StdioServerParameters(command=CTL, args=["mcp", "--socket", SOCKET])
    with anyio.fail_after(60):
        async with stdio_client(server) as (read, write):
            async with ClientSession(read, write, message_handler=on_message) as session:
                init = await session.initialize()
                check("initialize negotiates 2025-11-25", init.protocol_version == "2025-11-25", init.protocol_version)
                check("serverInfo names toolformerd", init.server_info.name == "toolformerd", init.server_info)
                tools_cap = init.capabilities.tools
                check("capabilities.tools.listChanged", tools_cap is not None and tools_cap.list_changed is True, init.capabilities)

                await session.send_ping()
                check("ping", True)

                names, pages = await list_all(session)
                check(f"tools/list over {pages} pages lists all {EXPECTED_TOOLS} tools",
                      len(names) == EXPECTED_TOOLS and len(set(names)) == EXPECTED_TOOLS, f"{len(names)} names")
                check("more than one page", pages >= 2, pages)

                progress = []

                async def on_progress(value, total, message):
                    progress.append((value, total, message))

                result = await session.call_tool("sleep", {"ms": 50}, progress_callback=on_progress)
                check("tools/call answers", result.is_error is False and result.content[0].type == "text", result)
                check("structuredContent", result.structured_content == {"sleptMs": 50}, result.structured_content)
                # The client runs progress callbacks as tasks of their own: give the last one a moment.
                with anyio.move_on_after(2):
                    while not progress or progress[-1][1] is None:
                        await anyio.sleep(0.01)
                values = [value for value, _, _ in progress]
                check("progress notifications arrive, increasing", len(values) >= 2 and values == sorted(set(values)), progress)
                check("the last progress reaches its total", bool(progress) and progress[-1][1] == progress[-1][0], progress)
                check("progress messages name the tool", all("sleep" in (m or "") for _, _, m in progress), progress)

                echoed = await session.call_tool("echo", {"text": "héllo 🌍", "n": 9007199254740993})
                check("arguments round-trip", echoed.structured_content == {"text": "héllo 🌍", "n": 9007199254740993},
                      echoed.structured_content)

                refused = None
                try:
                    await session.call_tool("no_such_tool", {})
                except Exception as error:  # the daemon's -32602 unknown_tool reaches the client as an error
                    refused = error
                check("an unknown tool is an error", refused is not None and "no_such_tool" in str(refused), repr(refused))

                # The client gives up after 0.3 s and sends notifications/cancelled: the daemon stops
                # the call (its late -32800 answer must not upset the session).
                gave_up = None
                try:
                    await session.call_tool("sleep", {"ms": 10000}, read_timeout_seconds=0.3)
                except Exception as error:
                    gave_up = error
                check("a call past the client's timeout raises", gave_up is not None, "no error")
                inflight = None
                for _ in range(100):
                    inflight = raw_call("daemon/status").get("result", {}).get("inflight")
                    if inflight == 0:
                        break
                    await anyio.sleep(0.05)
                check("notifications/cancelled stopped the call in the daemon", inflight == 0, inflight)
                after = await session.call_tool("echo", {"after": True})
                check("the session still works after the cancellation", after.structured_content == {"after": True}, after)

                with open(CONFIG, "a", encoding="utf-8") as config:
                    config.write('\n[tools.added_by_reload]\nkind = "builtin"\nbuiltin = "echo"\n')
                answer = raw_call("daemon/reload")
                check("daemon/reload", answer.get("result", {}).get("reloaded") is True, answer)
                with anyio.move_on_after(10):
                    await list_changed.wait()
                check("notifications/tools/list_changed after the reload", list_changed.is_set(), notifications)
                names, _ = await list_all(session)
                check("the new tool is listed", "added_by_reload" in names and len(names) == EXPECTED_TOOLS + 1, len(names))

    print(f"{results['passed']} passed, {results['failed']} failed", flush=True)
    return 1 if results["failed"] else 0


if __name__ == "__main__":
    sys.exit(anyio.run(main))
