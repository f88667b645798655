"""The toolbox's tools for the rest of the protocol: every content type, structured content,
progress, logging, sampling, elicitation, roots, cancellation, annotations and a tool that
needs task augmentation. Imported by ``toolbox.py`` (same folder, run as a script)."""

# No `from __future__ import annotations`: MCPServer reads the tools' annotations at runtime.
import asyncio
import json
from pathlib import Path
from typing import Annotated

PNG = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgAAAAAgAB4iG8MwAAAABJRU5ErkJggg=="
)


def add_protocol_tools(server, task_tool: bool = False) -> None:
    from mcp.server.mcpserver import Context
    from mcp_types import (
        Annotations,
        AudioContent,
        BlobResourceContents,
        CallToolResult,
        EmbeddedResource,
        ImageContent,
        ResourceLink,
        SamplingMessage,
        TextContent,
        TextResourceContents,
        ToolAnnotations,
        ToolExecution,
    )
    from pydantic import BaseModel

    class Weather(BaseModel):
        temperature: float
        conditions: str

    class Person(BaseModel):
        name: str
        age: int

    class Confirm(BaseModel):
        sure: bool

    read_only = ToolAnnotations(readOnlyHint=True, idempotentHint=True)

    @server.tool(
        title="Every content type",
        description="Text, image, audio, resources, a resource link and structured content.",
        annotations=read_only,
    )
    def all_content() -> Annotated[CallToolResult, Weather]:
        notes = TextResourceContents(uri="file:///notes.txt", mime_type="text/plain", text="notes")
        pdf = BlobResourceContents(
            uri="file:///doc.pdf", mime_type="application/pdf", blob="JVBERi0="
        )
        return CallToolResult(
            content=[
                TextContent(
                    text="It is sunny.",
                    annotations=Annotations(audience=["user"], priority=0.5),
                ),
                ImageContent(data=PNG, mime_type="image/png"),
                AudioContent(data="UklGRg==", mime_type="audio/wav"),
                EmbeddedResource(resource=notes),
                EmbeddedResource(resource=pdf),
                ResourceLink(
                    name="report",
                    title="The report",
                    uri="file:///report.md",
                    mime_type="text/markdown",
                    description="The full weather report",
                ),
            ],
            structured_content={"temperature": 21.5, "conditions": "sunny"},
        )

    @server.tool(description="Only structured content, no content blocks.")
    def only_structure() -> Annotated[CallToolResult, Weather]:
        return CallToolResult(
            content=[], structured_content={"temperature": 3.0, "conditions": "snow"}
        )

    @server.tool(description="Structured content that does not match the output schema.")
    def bad_structure() -> CallToolResult:
        return CallToolResult(
            content=[TextContent(text="hot")], structured_content={"temperature": "hot"}
        )

    @server.tool(description="Report progress in steps, then answer.", annotations=read_only)
    async def work(steps: int, ctx: Context, delay: float = 0.0) -> str:
        for step in range(1, steps + 1):
            await ctx.report_progress(step, steps, f"step {step} of {steps}")
            if delay:
                await asyncio.sleep(delay)
        return f"worked {steps} steps"

    @server.tool(description="Report progress, then wait until a file exists.")
    async def work_until(path: str, ctx: Context) -> str:
        await ctx.report_progress(1, 4, "waiting for the go")
        while not Path(path).exists():
            await asyncio.sleep(0.02)
        await ctx.report_progress(4, 4, "done")
        return "went"

    @server.tool(description="Send log messages at every level.")
    async def chatty(ctx: Context) -> str:
        for level in ("debug", "info", "warning", "error"):
            await ctx.log(level, f"a {level} message", logger_name="chatty")
        await ctx.log("info", {"structured": True}, logger_name="chatty")
        return "said things"

    @server.tool(description="Ask the client's model to complete a prompt (sampling).")
    async def ask_model(prompt: str, ctx: Context) -> str:
        result = await ctx.session.create_message(
            messages=[SamplingMessage(role="user", content=TextContent(text=prompt))],
            max_tokens=64,
            system_prompt="Answer in one word.",
        )
        return f"the model ({result.model}) said: {result.content.text}"

    @server.tool(description="Ask the person for their name and age (elicitation).")
    async def ask_person(question: str, ctx: Context) -> str:
        answer = await ctx.elicit(message=question, schema=Person)
        if answer.action == "accept":
            return f"Hello {answer.data.name}, {answer.data.age}"
        return f"no answer: {answer.action}"

    @server.tool(description="Ask two questions in a row.")
    async def ask_twice(ctx: Context) -> str:
        first = await ctx.elicit(message="Who are you?", schema=Person)
        if first.action != "accept":
            return f"stopped at the first question: {first.action}"
        second = await ctx.elicit(message=f"Sure, {first.data.name}?", schema=Confirm)
        if second.action != "accept":
            return f"stopped at the second question: {second.action}"
        return f"{first.data.name} is sure: {second.data.sure}"

    @server.tool(description="Ask the person to open a URL (URL-mode elicitation).")
    async def ask_url(ctx: Context) -> str:
        answer = await ctx.elicit_url(
            message="Sign in, please", url="https://example.com/sign-in", elicitation_id="e1"
        )
        return f"url answer: {answer.action}"

    @server.tool(description="The client's roots.")
    async def roots(ctx: Context) -> str:
        listed = await ctx.session.list_roots()
        return json.dumps([{"uri": str(r.uri), "name": r.name} for r in listed.roots])

    @server.tool(description="The client capabilities the server was told about.")
    async def capabilities(ctx: Context) -> str:
        declared = ctx.session.client_capabilities
        return json.dumps(declared.model_dump(by_alias=True, mode="json", exclude_none=True))

    @server.tool(description="Wait; write a marker file when cancelled.")
    async def wait_cancel(marker: str, ctx: Context, seconds: float = 30.0) -> str:
        await ctx.report_progress(0, None, "waiting")
        try:
            await asyncio.sleep(seconds)
        except BaseException:
            Path(marker).write_text("cancelled")
            raise
        return "waited"

    @server.tool(description="Answer with the given text; read-only.", annotations=read_only)
    def read_text(text: str) -> str:
        return text

    @server.tool(description="Append to a file: neither read-only nor idempotent.")
    def append(path: str, text: str) -> str:
        with open(path, "a") as handle:
            handle.write(text)
        return "appended"

    if task_tool:

        @server.tool(description="A long research job, only as an MCP task.")
        def research(topic: str) -> str:
            return topic

    listed = server.list_tools

    async def list_tools():
        tools = await listed()
        for tool in tools:
            if tool.name == "research":
                tool.execution = ToolExecution(task_support="required")
            if tool.name == "bad_structure":
                tool.output_schema = Weather.model_json_schema()
        return tools

    server.list_tools = list_tools
