/** What the MCP tests share: the tool calls of one approval, read as an agent would, and what they must never show. */
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { expect } from "vitest";
import type { Approvals, Notification } from "../../src/index.ts";
import { eventually, PUBLIC_URL, recordingChannel, type TestBed, type WireJson } from "./test-bed.ts";

const TOOL_NAMES = ["get_approval", "list_pending", "request_approval", "wait_for_decision"];

/** A tool call: the result as the client got it, its raw JSON, and its structured content. */
export async function call(client: Client, name: string, args: Record<string, unknown>) {
  const result = (await client.callTool({ name, arguments: args })) as WireJson;
  return { result, raw: JSON.stringify(result), data: result.structuredContent as WireJson };
}

/** The text of an error result. */
const errorText = (result: WireJson): string => (result.content as { text: string }[])[0]?.text ?? "";

/** A worker on the bed's schema that keeps every notification: the reviewer links the tools must never show. */
export async function recordingWorker(bed: TestBed): Promise<{ approvals: Approvals; sent: Notification[] }> {
  const channel = recordingChannel();
  const approvals = bed.create({ channels: [channel], defaults: { reminders: [] } });
  await approvals.start();
  return { approvals, sent: channel.sent };
}

export async function expectTools(client: Client): Promise<void> {
  const { tools } = await client.listTools();
  expect(tools.map((tool) => tool.name).sort()).toEqual(TOOL_NAMES);
  const byName = Object.fromEntries(tools.map((tool) => [tool.name, tool]));
  const request = byName.request_approval?.inputSchema as WireJson;
  expect(request.type).toBe("object");
  expect(Object.keys(request.properties)).toEqual(
    expect.arrayContaining([
      "type",
      "title",
      "payload",
      "reviewers",
      "steps",
      "actions",
      "requestedBy",
      "timeout",
      "idempotencyKey",
    ]),
  );
  // reviewers or steps: countersign checks that exactly one is given.
  expect(request.required).toEqual(["title"]);
  expect(request.properties.steps).toMatchObject({ type: "array", minItems: 1 });
  expect(request.properties.reviewers).toMatchObject({ type: "array", items: { type: "string" } });
  expect(request.properties.timeoutAction.enum).toEqual(["approve", "reject", "cancel"]);
  const wait = byName.wait_for_decision?.inputSchema as WireJson;
  expect(wait.required).toEqual(["id"]);
  expect(wait.properties.waitSeconds).toMatchObject({ type: "integer", minimum: 1, maximum: 300 });
  expect(byName.get_approval?.inputSchema).toMatchObject({ required: ["id"] });
  expect(byName.list_pending?.annotations).toMatchObject({ readOnlyHint: true });
  // No tool decides: the agent that asks can never approve its own request.
  expect(
    tools.map((tool) => tool.name).filter((name) => /decide|approve|reject/.test(name) && name !== "request_approval"),
  ).toEqual([]);
}

/**
 * request → get → list → wait (bounded: still pending) → a reviewer approves → wait returns the decision.
 * Every answer's raw JSON is checked for the reviewer's token and link, which the worker sent meanwhile.
 */
export async function approvalRoundTrip(client: Client, bed: TestBed, sent: Notification[], title: string) {
  const answers: string[] = [];
  const tool = async (name: string, args: Record<string, unknown>) => {
    const answer = await call(client, name, args);
    answers.push(answer.raw);
    expect(answer.result.isError, `${name}: ${answer.raw}`).toBeFalsy();
    return answer.data;
  };

  const requested = await tool("request_approval", {
    type: "deploy.production.v1",
    title,
    payload: { service: "billing", version: "2.4.0" },
    reviewers: ["sre@company.com"],
    requestedBy: "agent://release-bot",
    timeout: "1h",
    idempotencyKey: `key-${title}`,
  });
  expect(requested).toMatchObject({ status: "pending", title, waitingOn: ["sre@company.com"], decision: null });
  const id = requested.id as string;
  expect(id).toMatch(/^[0-9a-f-]{36}$/);
  const stored = await bed.approvals.get(id);
  expect(stored).toMatchObject({ requestedBy: "agent://release-bot", type: "deploy.production.v1" });
  expect(stored.deadline.getTime() - stored.createdAt.getTime()).toBe(3_600_000);

  // The same idempotency key answers the same approval.
  expect((await tool("request_approval", { title, reviewers: ["sre@company.com"] })).id).not.toBe(id);
  const again = await tool("request_approval", {
    type: "deploy.production.v1",
    title,
    payload: { service: "billing", version: "2.4.0" },
    reviewers: ["sre@company.com"],
    requestedBy: "agent://release-bot",
    timeout: "1h",
    idempotencyKey: `key-${title}`,
  });
  expect(again.id).toBe(id);

  const looked = await tool("get_approval", { id });
  expect(looked).toMatchObject({ id, status: "pending", currentStep: 0, decision: null });
  expect(looked.steps).toEqual([
    expect.objectContaining({
      name: "review",
      status: "active",
      quorum: 1,
      approvals: 0,
      reviewers: [expect.objectContaining({ reviewer: "sre@company.com", vote: null })],
    }),
  ]);

  const listed = await tool("list_pending", { reviewer: "sre@company.com", limit: 50 });
  expect(listed.items).toEqual(
    expect.arrayContaining([expect.objectContaining({ id, title, deadline: stored.deadline.toISOString() })]),
  );

  const started = Date.now();
  const pending = await tool("wait_for_decision", { id, waitSeconds: 1 });
  expect(Date.now() - started).toBeGreaterThanOrEqual(900);
  expect(pending).toMatchObject({ id, status: "pending", approved: false, waitingOn: ["sre@company.com"] });

  // The worker has told the reviewer by now: their link must appear in nothing the agent saw.
  const notice = await eventually(() => sent.find((n) => n.approval.id === id && n.kind === "request"));
  const token = notice.links.view.split("/r/")[1] ?? "";
  expect(token.length).toBeGreaterThan(20);

  const waiting = tool("wait_for_decision", { id, waitSeconds: 20 });
  await new Promise((resolve) => setTimeout(resolve, 200));
  await bed.approvals.decide(id, { reviewer: "sre@company.com", outcome: "approve", comment: "go" });
  const decided = await waiting;
  expect(decided).toMatchObject({
    id,
    status: "approved",
    approved: true,
    decidedBy: "sre@company.com",
    comment: "go",
  });
  expect(decided.payload).toEqual({ service: "billing", version: "2.4.0" });
  expect((await tool("get_approval", { id })).decision).toMatchObject({ status: "approved", approved: true });

  for (const raw of answers) {
    expect(raw).not.toContain(token);
    expect(raw).not.toContain("/r/");
    expect(raw).not.toContain(PUBLIC_URL);
    expect(raw).not.toMatch(/token|links/i);
  }
  return id;
}

/** Bad input answers a tool error a model can read, from countersign's validation and from the SDK's. */
export async function expectReadableErrors(client: Client): Promise<void> {
  const notUuid = await call(client, "get_approval", { id: "not-an-id" });
  expect(notUuid.result.isError).toBe(true);
  expect(errorText(notUuid.result)).toMatch(/^VALIDATION: .*must be an approval id \(a UUID\)/s);

  const unknown = await call(client, "wait_for_decision", { id: "00000000-0000-4000-8000-000000000000" });
  expect(unknown.result.isError).toBe(true);
  expect(errorText(unknown.result)).toMatch(/^NOT_FOUND: .*was not found/);
  expect(unknown.data).toMatchObject({ error: { code: "NOT_FOUND" } });

  // Checked by countersign: the requester can never be the only one who decides.
  const self = await call(client, "request_approval", {
    title: "Approve myself",
    reviewers: ["agent://me"],
    requestedBy: "agent://me",
  });
  expect(self.result.isError).toBe(true);
  expect(errorText(self.result)).toContain("cannot approve their own request");
  expect(self.data.error.issues).toEqual([expect.objectContaining({ path: "quorum" })]);

  const neither = await call(client, "request_approval", { title: "Nobody asked" });
  expect(neither.result.isError).toBe(true);
  expect(errorText(neither.result)).toContain("give either reviewers or steps (exactly one)");

  const badTimeout = await call(client, "request_approval", { title: "t", reviewers: ["a@co.com"], timeout: "soon" });
  expect(badTimeout.result.isError).toBe(true);
  expect(errorText(badTimeout.result)).toMatch(/timeout\.after: /);

  // Checked by the SDK against the input schema, before any tool runs.
  const missing = await call(client, "request_approval", { reviewers: [] });
  expect(missing.result.isError).toBe(true);
  expect(errorText(missing.result)).toMatch(/Invalid arguments for tool request_approval/);
  expect(errorText(missing.result)).toMatch(/title/);
  const tooLong = await call(client, "wait_for_decision", {
    id: "00000000-0000-4000-8000-000000000000",
    waitSeconds: 301,
  });
  expect(tooLong.result.isError).toBe(true);
  expect(errorText(tooLong.result)).toMatch(/waitSeconds/);
}
