import { type Command, Option } from "commander";
import { inCliTerms, open, say, UsageError, withConnection, withSecret, type ConnectionOptions } from "./context.ts";

interface McpOptions extends ConnectionOptions {
  requestedBy: string;
  maxWait: string;
}

/** The MCP SDK is an optional peer dependency: loaded only by this command, so the others run without it. */
async function loadMcp() {
  try {
    const [{ createMcpServer }, { StdioServerTransport }] = await Promise.all([
      import("../mcp/server.ts"),
      import("@modelcontextprotocol/sdk/server/stdio.js"),
    ]);
    return { createMcpServer, StdioServerTransport };
  } catch (error) {
    const missing = (error as { code?: unknown }).code === "ERR_MODULE_NOT_FOUND";
    if (!missing || !String(error).includes("@modelcontextprotocol/sdk")) throw error;
    throw new UsageError(
      "countersign mcp needs the MCP SDK: npm install @modelcontextprotocol/sdk (in the project that installed countersign)",
    );
  }
}

export function registerMcp(program: Command): void {
  withSecret(withConnection(program.command("mcp")))
    .description("serve the approval tools to an MCP client over stdio (request, look, wait, list pending)")
    .option("--requested-by <who>", "who asks, when a request names nobody", "mcp://agent")
    .addOption(new Option("--max-wait <seconds>", "the longest one wait_for_decision call may wait").default("300"))
    .action(async (options: McpOptions) => {
      const maxWaitSeconds = Number(options.maxWait);
      if (!Number.isInteger(maxWaitSeconds) || maxWaitSeconds < 1)
        throw new UsageError("--max-wait must be a whole number of seconds, at least 1");
      const { createMcpServer, StdioServerTransport } = await loadMcp();
      // Requesting derives reviewer tokens: the app's real secret, or the links its worker sends would not work.
      const approvals = open(options, {}, { secret: true, longRunning: true });
      const server = createMcpServer(approvals, { maxWaitSeconds, requestedBy: options.requestedBy });
      // stdout carries MCP and nothing else: every message goes to stderr.
      await server.connect(new StdioServerTransport());
      say(`countersign MCP server on stdio, schema ${approvals.schema}; a worker elsewhere sends the notifications.`);
      // Said at startup, not at the first tool call: the client's log shows it where its user looks.
      approvals.list({ limit: 1 }).catch((error: unknown) => {
        const explained = inCliTerms(error, approvals.schema);
        say(`countersign: ${explained instanceof Error ? explained.message : String(explained)}`);
      });
      await new Promise<void>((done) => {
        process.stdin.once("end", done);
        process.stdin.once("close", done);
        process.once("SIGINT", done);
        process.once("SIGTERM", done);
      });
      await server.close();
      await approvals.stop();
    });
}
