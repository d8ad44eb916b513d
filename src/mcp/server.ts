/**
 * `countersign/mcp`: countersign's approval tools for MCP clients (Claude Desktop, IDE agents, any agent
 * framework that speaks MCP). Needs the optional peer dependency `@modelcontextprotocol/sdk`.
 *
 * - {@link createMcpServer}: an `McpServer` with the tools, for any transport of the SDK;
 * - {@link mcpHandler} / {@link mcpNodeHandler}: the tools over Streamable HTTP, behind `authorize`;
 * - `countersign mcp`: the tools over stdio, from the command line.
 */
export { createMcpServer, type McpServerOptions } from "./tools.ts";
export { mcpHandler, mcpNodeHandler, type McpHandlerOptions } from "./http.ts";
