"""A small MCP server for the workbench's MCP demo and pictures ("lake gauges").

Run as a script over stdio: ``python gauges_server.py``. Its tools show what the
workbench does with the MCP protocol besides plain results:

* ``survey_shore``: reports progress while it "measures" (a bar on the tool's row);
* ``book_room``: asks the person for their booking (a form built from its schema).
"""

# No `from __future__ import annotations`: MCPServer reads the tools' annotations.
import asyncio
import warnings


def build_server():
    from typing import Literal

    from mcp.server.mcpserver import Context, MCPServer
    from pydantic import BaseModel, Field

    server = MCPServer("lake-gauges", version="1.0.0", log_level="CRITICAL")

    class Booking(BaseModel):
        name: str = Field(title="Guest name")
        nights: int = Field(title="Nights", ge=1, le=14, default=2)
        breakfast: bool = Field(title="Breakfast included", default=True)
        room: Literal["lake view", "garden"] = Field(title="Room", default="lake view")

    @server.tool(description="Survey one shore of the lake, buoy by buoy.")
    async def survey_shore(shore: str, ctx: Context, pace: float = 0.3, hold_at: int = 0) -> str:
        buoys = 4
        for buoy in range(1, buoys + 1):
            if buoy == hold_at:
                await asyncio.Event().wait()  # held (pictures and tests); cancelled to end
            await ctx.report_progress(buoy - 1, buoys, f"measuring depth at buoy {buoy}")
            await asyncio.sleep(pace)
        await ctx.report_progress(buoys, buoys, "all buoys measured")
        return f"The {shore} shore: depths 3.1 m, 4.8 m, 6.2 m and 2.7 m."

    @server.tool(description="Book a room at the lake lodge; asks the guest for details.")
    async def book_room(ctx: Context) -> str:
        answer = await ctx.elicit(message="Who is the room for, and for how long?", schema=Booking)
        if answer.action != "accept":
            return f"No booking: the guest chose to {answer.action}."
        booking = answer.data
        meal = "with" if booking.breakfast else "without"
        return (
            f"Booked a {booking.room} room for {booking.name}, {booking.nights} nights, "
            f"{meal} breakfast."
        )

    return server


if __name__ == "__main__":
    warnings.simplefilter("ignore")
    build_server().run("stdio")
