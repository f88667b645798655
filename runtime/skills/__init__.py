"""Skills: the tools an Expert can call (base skill, MCP servers, interactive tools, delegates)."""
