"""A small MCP server for the skill tests, written with the official ``mcp`` SDK.

Run as a script: ``python toolbox.py [options]``. It serves over stdio by default, or over
SSE / streamable HTTP on 127.0.0.1 with an ephemeral port (printed as ``PORT <n>`` on
stdout once listening).

Options:
    --transport stdio|sse|http   how to serve (default stdio)
    --delay SECONDS              wait before serving (a slow start)
    --fail-on-start MESSAGE      print MESSAGE on stderr and exit 1 before serving
    --hang                       never answer (a server stuck before its handshake)
    --variant N                  2 = changed tool schemas (for lockfile drift); default:
                                 $TOOLBOX_VARIANT, else 1
    --spawn-child                start a long-lived child process (for orphan checks)
    --name NAME                  the serverInfo name (default "toolbox")
    --port N                     listen on this port (SSE / HTTP; default: any free one)
    --task-tool                  also offer "research", which runs only as an MCP task

Besides the tools below, every tool of ``protocol_tools.py`` (progress, logging,
sampling, elicitation, roots, every content type…).
"""

# No `from __future__ import annotations`: MCPServer reads the tools' annotations at
# runtime to build their schemas, and the types are imported inside build_server().
import argparse
import asyncio
import base64
import json
import os
import socket
import subprocess
import sys
import time
import warnings

# A 1x1 transparent PNG.
PNG = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
    )
).decode()


def build_server(
    variant: int, name: str, child: "subprocess.Popen | None", task_tool: bool = False
):
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError
    from mcp.shared.exceptions import MCPError
    from mcp_types import (
        AudioContent,
        BlobResourceContents,
        CallToolResult,
        EmbeddedResource,
        ImageContent,
        ResourceLink,
        TextContent,
        TextResourceContents,
    )

    server = MCPServer(name, version="1.2.3", log_level="CRITICAL")

    if variant == 2:

        @server.tool(description="Echo the text back, optionally loud.")
        def echo(text: str, loud: bool = False) -> str:
            return text.upper() if loud else text

        @server.tool(description="Shout the text.")
        def shout(text: str) -> str:
            return text.upper() + "!"

    else:

        @server.tool(description="Echo the text back.")
        def echo(text: str) -> str:
            return text

        @server.tool(description="Return no content at all.")
        def nothing() -> CallToolResult:
            return CallToolResult(content=[])

    @server.tool(description="Return an image.")
    def image() -> CallToolResult:
        return CallToolResult(content=[ImageContent(data=PNG, mime_type="image/png")])

    @server.tool(description="Return a text resource and a binary one.")
    def resources() -> CallToolResult:
        return CallToolResult(
            content=[
                EmbeddedResource(
                    resource=TextResourceContents(
                        uri="file:///notes.txt", mime_type="text/plain", text="the notes"
                    )
                ),
                EmbeddedResource(
                    resource=BlobResourceContents(
                        uri="file:///doc.pdf", mime_type="application/pdf", blob="JVBERi0="
                    )
                ),
            ]
        )

    @server.tool(description="Return an empty text, audio and a resource link.")
    def odd_blocks() -> CallToolResult:
        return CallToolResult(
            content=[
                TextContent(text=""),
                AudioContent(data="AAAA", mime_type="audio/wav"),
                ResourceLink(name="x", uri="file:///x"),
            ]
        )

    @server.tool(description="Fail with a message for the model (an isError result).")
    def fail(message: str) -> str:
        raise ToolError(message)

    @server.tool(description="Raise an unexpected exception inside the tool.")
    def explode() -> str:
        raise ValueError("boom")

    @server.tool(description="Answer with a JSON-RPC error.")
    def protocol_error() -> str:
        raise MCPError(code=-32001, message="quota exceeded")

    @server.tool(description="Exit the server process abruptly.")
    def crash(code: int = 3) -> str:
        print("fatal: crashing on purpose", file=sys.stderr, flush=True)
        os._exit(code)

    @server.tool(description="The server's environment as JSON.")
    def environment() -> str:
        return json.dumps(dict(os.environ))

    @server.tool(description="Write lines to stderr.")
    def say_stderr(text: str) -> str:
        print(text, file=sys.stderr, flush=True)
        return "ok"

    @server.tool(description="Sleep, then answer.")
    async def sleep(seconds: float) -> str:
        print(f"sleeping {seconds}", file=sys.stderr, flush=True)
        await asyncio.sleep(seconds)
        return f"slept {seconds}"

    @server.tool(description="The pids of this server and of its child.")
    def pids() -> str:
        return json.dumps({"server": os.getpid(), "child": child.pid if child else None})

    from protocol_tools import add_protocol_tools

    add_protocol_tools(server, task_tool)
    return server


def serve_http(server, transport: str, port: int = 0) -> None:
    import anyio
    import uvicorn

    app = server.sse_app() if transport == "sse" else server.streamable_http_app()
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a restart reuses the port
    sock.bind(("127.0.0.1", port))
    sock.listen(128)  # connections queue from now on, before uvicorn has started
    print(f"PORT {sock.getsockname()[1]}", flush=True)
    config = uvicorn.Config(app, log_level="error", timeout_graceful_shutdown=1)
    anyio.run(uvicorn.Server(config).serve, [sock])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--transport", default="stdio", choices=["stdio", "sse", "http"])
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--fail-on-start")
    parser.add_argument("--hang", action="store_true")
    parser.add_argument("--variant", type=int, default=int(os.environ.get("TOOLBOX_VARIANT", 1)))
    parser.add_argument("--spawn-child", action="store_true")
    parser.add_argument("--name", default="toolbox")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--task-tool", action="store_true")
    options = parser.parse_args()
    warnings.simplefilter("ignore")  # the SDK's deprecation notices (logging, sampling)

    print(f"{options.name} starting", file=sys.stderr, flush=True)
    if options.fail_on_start:
        print(options.fail_on_start, file=sys.stderr, flush=True)
        sys.exit(1)
    if options.hang:
        while True:
            time.sleep(60)
    if options.delay:
        time.sleep(options.delay)
    child = subprocess.Popen(["sleep", "300"]) if options.spawn_child else None
    server = build_server(options.variant, options.name, child, options.task_tool)
    if options.transport == "stdio":
        server.run("stdio")
    else:
        serve_http(server, options.transport, options.port)


if __name__ == "__main__":
    main()
