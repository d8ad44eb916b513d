import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import express from "express";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Notification, ValidationError } from "../../src/index.ts";
import { mcpHandler, mcpNodeHandler } from "../../src/mcp/server.ts";
import { approvalRoundTrip, call, expectReadableErrors, expectTools, recordingWorker } from "../support/mcp.ts";
import { readJson, useTestBed } from "../support/test-bed.ts";

const bed = useTestBed("mcp_http");
const TOKEN = "mcp-test-token-0123456789";
const authorize = (request: Request) => request.headers.get("authorization") === `Bearer ${TOKEN}`;

const initialize = {
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } },
};
const post = (url: URL, headers: Record<string, string> = {}) =>
  fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json, text/event-stream", ...headers },
    body: JSON.stringify(initialize),
  });

describe("mcpHandler (Streamable HTTP)", () => {
  let server: Server;
  let url: URL;
  let sent: Notification[];
  const connect = async (headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` }) => {
    const client = new Client({ name: "countersign-test", version: "1.0.0" });
    await client.connect(new StreamableHTTPClientTransport(url, { requestInit: { headers } }));
    return client;
  };

  beforeAll(async () => {
    ({ sent } = await recordingWorker(bed));
    server = createServer(mcpNodeHandler(bed.approvals, { authorize }));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`);
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it("refuses a request without authorization with 401 and a JSON body, before any tool; accepts one with it", async () => {
    const refused = await post(url);
    expect(refused.status).toBe(401);
    expect(refused.headers.get("content-type")).toMatch(/^application\/json/);
    expect(await readJson(refused)).toEqual({
      error: { code: "UNAUTHORIZED", title: "Unauthorized", message: "This MCP endpoint needs valid credentials." },
    });
    expect((await post(url, { authorization: "Bearer wrong" })).status).toBe(401);
    await expect(connect({})).rejects.toThrow();

    const accepted = await post(url, { authorization: `Bearer ${TOKEN}` });
    expect(accepted.status).toBe(200);
    expect(await accepted.text()).toContain('"serverInfo":{"name":"countersign"');
    // Stateless: no stream to GET, no session to DELETE.
    const get = await fetch(url, { headers: { authorization: `Bearer ${TOKEN}`, accept: "text/event-stream" } });
    expect(get.status).toBe(405);
    expect(get.headers.get("allow")).toBe("POST");
  });

  it("a refused request never reaches a tool: nothing is requested", async () => {
    const before = (await bed.approvals.list({ limit: 500 })).items.length;
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 2,
        method: "tools/call",
        params: { name: "request_approval", arguments: { title: "Sneaky", reviewers: ["a@co.com"] } },
      }),
    });
    expect(response.status).toBe(401);
    expect((await bed.approvals.list({ limit: 500 })).items.length).toBe(before);
  });

  it("lists its tools and runs an approval from request to decision, never showing a reviewer link", async () => {
    const client = await connect();
    try {
      await expectTools(client);
      await approvalRoundTrip(client, bed, sent, "Deploy billing over HTTP");
      await expectReadableErrors(client);
    } finally {
      await client.close();
    }
  });

  it("requests a chain of sign-offs with steps: the second step is asked once the first passed", async () => {
    const client = await connect();
    const requested = await call(client, "request_approval", {
      title: "Release 3.0",
      steps: [
        { name: "engineering", reviewers: ["lead@co.com", "sre@co.com"], quorum: 2 },
        { name: "finance", reviewers: ["cfo@co.com"] },
      ],
    });
    expect(requested.result.isError, requested.raw).toBeFalsy();
    expect(requested.data).toMatchObject({ status: "pending", waitingOn: ["lead@co.com", "sre@co.com"] });
    const id = requested.data.id as string;
    for (const reviewer of ["lead@co.com", "sre@co.com"])
      await bed.approvals.decide(id, { reviewer, outcome: "approve" });
    const looked = await call(client, "get_approval", { id });
    expect(looked.data).toMatchObject({ status: "pending", currentStep: 1, waitingOn: ["cfo@co.com"] });
    expect(looked.data.steps.map((step: { name: string; quorum: number }) => [step.name, step.quorum])).toEqual([
      ["engineering", 2],
      ["finance", 1],
    ]);
    await client.close();
  });

  it("requests several tool calls as actions: each is decided on its own, and the decision says which may run, with what input", async () => {
    const client = await connect();
    try {
      const requested = await call(client, "request_approval", {
        title: "Run 2 tools",
        reviewers: ["lead@co.com"],
        actions: [
          {
            id: "call_1",
            name: "refund",
            input: { order: "A-1", amount: 120 },
            editable: ["amount"],
            inputSchema: { type: "object", properties: { amount: { type: "number", maximum: 100 } } },
          },
          { id: "call_2", name: "email", input: { to: "x@co.com" } },
        ],
      });
      expect(requested.result.isError, requested.raw).toBeFalsy();
      const id = requested.data.id as string;
      const refused = await bed.approvals
        .decide(id, {
          reviewer: "lead@co.com",
          actions: { call_1: { outcome: "approve", edits: { amount: 150 } }, call_2: { outcome: "approve" } },
        })
        .then(
          () => undefined,
          (error: ValidationError) => error.issues.map((issue) => issue.path),
        );
      expect(refused).toEqual(["actions.call_1.edits.amount"]);
      await bed.approvals.decide(id, {
        reviewer: "lead@co.com",
        actions: {
          call_1: { outcome: "approve", edits: { amount: 90 } },
          call_2: { outcome: "reject", comment: "no e-mails today" },
        },
      });
      const waited = await call(client, "wait_for_decision", { id, waitSeconds: 5 });
      expect(waited.data).toMatchObject({ status: "approved", approved: true });
      expect(waited.data.actions).toEqual([
        expect.objectContaining({ id: "call_1", outcome: "approve", input: { order: "A-1", amount: 90 } }),
        expect.objectContaining({ id: "call_2", outcome: "reject", comment: "no e-mails today" }),
      ]);
      const noActions = await call(client, "request_approval", {
        title: "Empty",
        reviewers: ["lead@co.com"],
        actions: [],
      });
      expect(noActions.result.isError).toBe(true);
    } finally {
      await client.close();
    }
  });

  it("serves behind Express, after express.json() has read the body", async () => {
    const app = express().use(express.json());
    app.post("/mcp", mcpNodeHandler(bed.approvals, { authorize }));
    const behind = app.listen(0, "127.0.0.1");
    await new Promise((resolve) => behind.once("listening", resolve));
    try {
      const client = new Client({ name: "countersign-test", version: "1.0.0" });
      const address = `http://127.0.0.1:${(behind.address() as AddressInfo).port}/mcp`;
      await client.connect(
        new StreamableHTTPClientTransport(new URL(address), {
          requestInit: { headers: { authorization: `Bearer ${TOKEN}` } },
        }),
      );
      expect((await client.listTools()).tools).toHaveLength(4);
      const listed = await client.callTool({ name: "list_pending", arguments: { limit: 1 } });
      expect(listed.isError).toBeFalsy();
      await client.close();
    } finally {
      behind.closeAllConnections();
      await new Promise((resolve) => behind.close(resolve));
    }
  });

  it("needs authorize, and a throwing authorize refuses", async () => {
    expect(() => mcpHandler(bed.approvals, {} as never)).toThrow(/needs an authorize\(request\) function/);
    const handler = mcpHandler(bed.approvals, {
      authorize: () => {
        throw new Error("auth service down");
      },
    });
    const response = await handler(new Request("http://app.test/mcp", { method: "POST", body: "{}" }));
    expect(response.status).toBe(401);
  });
});
