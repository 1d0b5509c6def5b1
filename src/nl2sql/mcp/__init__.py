"""MCP: the endpoint AI assistants and IDEs ask through (/mcp, streamable HTTP, stateless), its tools one more door
onto the answers use cases, with the same API keys, grants, guard, rate limits, quotas and request records."""

from nl2sql.mcp.endpoint import McpEndpoint

__all__ = ["McpEndpoint"]
