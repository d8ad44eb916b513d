import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Notification } from "../../src/index.ts";
import { approvalRoundTrip, call, expectReadableErrors, expectTools, recordingWorker } from "../support/mcp.ts";
import { PUBLIC_URL, TEST_SECRET, useTestBed } from "../support/test-bed.ts";

/** The built bin, as an MCP client's `npx countersign mcp` runs it (npm test builds before testing). */
const BIN = fileURLToPath(new URL("../../dist/cli/main.js", import.meta.url));
const bed = useTestBed("mcp_stdio");

function spawnServer(env: Record<string, string>, args: string[] = []) {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [BIN, "mcp", ...args],
    env: { PATH: process.env.PATH ?? "", ...env },
    stderr: "pipe",
  });
  let stderr = "";
  transport.stderr?.on("data", (chunk) => (stderr += String(chunk)));
  return { transport, stderr: () => stderr };
}

describe("countersign mcp (stdio)", () => {
  const client = new Client({ name: "countersign-test", version: "1.0.0" });
  let server: ReturnType<typeof spawnServer>;
  let sent: Notification[];

  beforeAll(async () => {
    ({ sent } = await recordingWorker(bed));
    server = spawnServer({
      DATABASE_URL: bed.url,
      COUNTERSIGN_SCHEMA: bed.schema,
      COUNTERSIGN_SECRET: TEST_SECRET,
      COUNTERSIGN_PUBLIC_URL: PUBLIC_URL,
    });
    await client.connect(server.transport);
  });
  afterAll(() => client.close());

  it("lists its four tools with their input schemas, and none of them decides", async () => {
    await expectTools(client);
    expect(client.getServerVersion()).toMatchObject({ name: "countersign" });
    expect(client.getInstructions()).toContain("wait_for_decision");
  });

  it("requests, looks, waits (still pending), and after a reviewer approves returns the decision, never a reviewer link", async () => {
    await approvalRoundTrip(client, bed, sent, "Deploy billing over stdio");
  });

  it("answers bad input with a tool error a model can read", async () => {
    await expectReadableErrors(client);
  });

  it("says on stderr, never on stdout, that it serves; stdout carries only MCP", async () => {
    // Every stdout line parsed as JSON-RPC, or the client would have failed above; the banner went to stderr.
    expect(server.stderr()).toContain(`countersign MCP server on stdio, schema ${bed.schema}`);
    expect((await call(client, "list_pending", { limit: 1 })).result.isError).toBeFalsy();
  });

  it("refuses to start without the secret, saying which option is missing", async () => {
    const bare = spawnServer({ DATABASE_URL: bed.url, COUNTERSIGN_SCHEMA: bed.schema });
    const refused = new Client({ name: "countersign-test", version: "1.0.0" });
    await expect(refused.connect(bare.transport)).rejects.toThrow();
    expect(bare.stderr()).toContain("no secret: pass --secret or set COUNTERSIGN_SECRET");
  });
});
