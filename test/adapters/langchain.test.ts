/**
 * countersign/langchain against the real packages: an agent from langchain's `createAgent` with
 * `humanInTheLoopMiddleware`, a scripted chat model that calls tools, and a `PostgresSaver` on the test
 * database beside countersign's schema.
 */
import { randomUUID } from "node:crypto";
import { PostgresSaver } from "@langchain/langgraph-checkpoint-postgres";
import {
  AIMessage,
  type BaseMessage,
  createAgent,
  fakeModel,
  humanInTheLoopMiddleware,
  type Interrupt,
  tool,
} from "langchain";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import {
  pendingInterrupt,
  type ResumedThread,
  requestInterruptApproval,
  resumeCommand,
  resumeOnDecision,
  resumeValue,
} from "../../src/adapters/langchain.ts";
import { type ValidationError, ValidationError as ValidationErrorClass } from "../../src/index.ts";
import { eventually, useTestBed } from "../support/test-bed.ts";

const bed = useTestBed("adapter_langchain");
const checkpointSchema = `${bed.schema}_langgraph`;
const CFO = "cfo@company.com";
const WORKER_TYPE = "test.langchain.worker.v1";

let checkpointer: PostgresSaver;
beforeAll(async () => {
  checkpointer = PostgresSaver.fromConnString(bed.url, { schema: checkpointSchema });
  await checkpointer.setup();
});
afterAll(async () => {
  await checkpointer?.end();
  await bed.pool.query(`drop schema if exists "${checkpointSchema}" cascade`);
});

const toolMessages = (messages: BaseMessage[]) => messages.filter((m) => m.type === "tool").map((m) => m.text);

/** The send_email tool's parameters as JSON Schema, for `interruptOn`'s `argsSchema`. */
const EMAIL_ARGS = {
  type: "object",
  properties: { to: { type: "string", pattern: "^[^@\\s]+@company\\.com$" }, body: { type: "string" } },
  required: ["to", "body"],
};

/** An agent whose model asks for two tool calls, then answers with what the tool messages said. */
function buildAgent(
  sendEmailReview: { allowedDecisions: ("approve" | "edit" | "reject")[]; argsSchema?: object } | true = true,
) {
  const runs: [string, unknown][] = [];
  const sendEmail = tool(
    async (args) => {
      runs.push(["send_email", args]);
      return `Sent to ${args.to}`;
    },
    { name: "send_email", description: "Send an email", schema: z.object({ to: z.string(), body: z.string() }) },
  );
  const pay = tool(
    async (args) => {
      runs.push(["pay", args]);
      return `Paid ${args.amount} EUR`;
    },
    { name: "pay", description: "Pay an invoice", schema: z.object({ invoice: z.string(), amount: z.number() }) },
  );
  const model = fakeModel()
    .respondWithTools([
      { name: "send_email", args: { to: "ceo@company.com", body: "Q1 closed at 1.1M EUR." }, id: "call_a" },
      { name: "pay", args: { invoice: "INV-7", amount: 4800 }, id: "call_b" },
    ])
    .respond((messages) => new AIMessage(`Done: ${toolMessages(messages).join(" / ")}`));
  const agent = createAgent({
    model,
    tools: [sendEmail, pay],
    checkpointer,
    middleware: [
      humanInTheLoopMiddleware({
        interruptOn: { send_email: sendEmailReview, pay: { allowedDecisions: ["approve", "reject"] } },
      }),
    ],
  });
  return { agent, model, runs };
}

type Agent = ReturnType<typeof buildAgent>["agent"];

/** Runs a new thread until the middleware pauses it on the two tool calls. */
async function pausedThread(agent: Agent) {
  const threadId = `thread-${randomUUID()}`;
  const result = await agent.invoke(
    { messages: [{ role: "user", content: "Tell the CEO about Q1 and pay INV-7" }] },
    { configurable: { thread_id: threadId } },
  );
  const interrupt = result.__interrupt__?.[0] as Interrupt;
  expect(interrupt).toBeDefined();
  return { threadId, interrupt };
}

const ask = (type: string, threadId: string, interrupt: Interrupt) =>
  requestInterruptApproval(bed.approvals, {
    type,
    threadId,
    interrupt,
    requestedBy: "agent://test/langchain",
    reviewers: [CFO],
    reminders: [],
  });

describe("countersign/langchain", () => {
  it("turns the middleware's interrupt into one batch, an action per tool call, once per thread and interrupt", async () => {
    const { agent } = buildAgent();
    const { threadId, interrupt } = await pausedThread(agent);
    const approval = await ask("test.langchain.batch.v1", threadId, interrupt);
    expect(approval).toMatchObject({
      title: "Review 2 tool calls: send_email, pay",
      idempotencyKey: `langchain:${threadId}:${interrupt.id}`,
      metadata: { threadId, interruptId: interrupt.id },
    });
    expect(
      approval.actions?.map(({ id, name, input, editable, outcome }) => ({ id, name, input, editable, outcome })),
    ).toEqual([
      {
        id: "call-1",
        name: "send_email",
        input: { to: "ceo@company.com", body: "Q1 closed at 1.1M EUR." },
        editable: ["to", "body"], // "edit" is allowed for send_email (interruptOn: true)
        outcome: "pending",
      },
      { id: "call-2", name: "pay", input: { invoice: "INV-7", amount: 4800 }, editable: [], outcome: "pending" },
    ]);
    expect(approval.actions?.[0]?.description).toContain("Tool: send_email");

    // Asked again, with the interrupt read back from the checkpoint (as a restarted process would): the same.
    const fromCheckpoint = await pendingInterrupt(agent, threadId);
    expect(fromCheckpoint?.id).toBe(interrupt.id);
    const again = await ask("test.langchain.batch.v1", threadId, fromCheckpoint as Interrupt);
    expect(again.id).toBe(approval.id);
    const { rows } = await bed.pool.query(
      `select count(*)::int as n from "${bed.schema}".approval where metadata->>'threadId' = $1`,
      [threadId],
    );
    expect(rows[0].n).toBe(1);
  });

  it("resumes with the edited call and the reviewer's reason: the model reads the rejection", async () => {
    const { agent, model, runs } = buildAgent();
    const { threadId, interrupt } = await pausedThread(agent);
    const approval = await ask("test.langchain.mixed.v1", threadId, interrupt);
    await bed.approvals.decide(approval.id, {
      reviewer: CFO,
      actions: {
        "call-1": { outcome: "approve", edits: { to: "board@company.com" } },
        "call-2": { outcome: "reject", comment: "Not before the audit" },
      },
    });
    const decision = await bed.approvals.waitForDecision(approval.id);
    expect(resumeValue(decision)).toEqual({
      decisions: [
        {
          type: "edit",
          editedAction: { name: "send_email", args: { to: "board@company.com", body: "Q1 closed at 1.1M EUR." } },
        },
        { type: "reject", message: "Not before the audit" },
      ],
    });

    const result = await agent.invoke(resumeCommand(decision, { interruptId: interrupt.id }), {
      configurable: { thread_id: threadId },
    });
    expect(toolMessages(model.calls.at(-1)?.messages ?? [])).toEqual(["Not before the audit"]);
    expect(result.messages.at(-1)?.text).toBe("Done: Not before the audit");
    // The middleware's rule, not ours: on any rejection it goes back to the model with the rejections only,
    // so the approved call does not run in this turn.
    expect(runs).toEqual([]);
  });

  it("runs the edited call with the reviewer's arguments and the other as asked when both are approved", async () => {
    const { agent, runs } = buildAgent();
    const { threadId, interrupt } = await pausedThread(agent);
    const approval = await ask("test.langchain.approved.v1", threadId, interrupt);
    await bed.approvals.decide(approval.id, {
      reviewer: CFO,
      actions: {
        "call-1": { outcome: "approve", edits: { to: "board@company.com" } },
        "call-2": { outcome: "approve" },
      },
    });
    const decision = await bed.approvals.waitForDecision(approval.id);
    expect(resumeValue(decision).decisions.map((d) => d.type)).toEqual(["edit", "approve"]);
    const result = await agent.invoke(resumeCommand(decision), { configurable: { thread_id: threadId } });
    expect(runs).toEqual([
      ["send_email", { to: "board@company.com", body: "Q1 closed at 1.1M EUR." }],
      ["pay", { invoice: "INV-7", amount: 4800 }],
    ]);
    expect(result.messages.at(-1)?.text).toBe("Done: Sent to board@company.com / Paid 4800 EUR");
  });

  it("carries a tool's argsSchema: a reviewer's edit that breaks it is refused, naming the argument", async () => {
    const { agent, runs } = buildAgent({ allowedDecisions: ["approve", "edit", "reject"], argsSchema: EMAIL_ARGS });
    const { threadId, interrupt } = await pausedThread(agent);
    const approval = await ask("test.langchain.schema.v1", threadId, interrupt);
    expect(approval.actions?.[0]?.inputSchema).toEqual(EMAIL_ARGS);
    expect(approval.actions?.[1]?.inputSchema).toBeUndefined();
    const decide = (to: string) =>
      bed.approvals.decide(approval.id, {
        reviewer: CFO,
        actions: { "call-1": { outcome: "approve", edits: { to } }, "call-2": { outcome: "approve" } },
      });
    const refused = await decide("someone@elsewhere.org").then(
      () => undefined,
      (error: ValidationError) => error,
    );
    expect(refused?.issues.map((issue) => issue.path)).toEqual(["actions.call-1.edits.to"]);
    expect((await bed.approvals.get(approval.id)).status).toBe("pending");
    await decide("board@company.com");
    const decision = await bed.approvals.waitForDecision(approval.id);
    await agent.invoke(resumeCommand(decision), { configurable: { thread_id: threadId } });
    expect(runs[0]).toEqual(["send_email", { to: "board@company.com", body: "Q1 closed at 1.1M EUR." }]);
  });

  it("rejects every call of a cancelled review, telling the model why", async () => {
    const { agent } = buildAgent();
    const { threadId, interrupt } = await pausedThread(agent);
    const approval = await ask("test.langchain.cancelled.v1", threadId, interrupt);
    await bed.approvals.cancel(approval.id, { reason: "the quarter was reopened" });
    const { decisions } = resumeValue(await bed.approvals.waitForDecision(approval.id));
    expect(decisions.map((d) => d.type)).toEqual(["reject", "reject"]);
    for (const d of decisions) expect(d.type === "reject" && d.message).toBeTruthy();
  });

  it("refuses an interrupt that is not the middleware's, and a tool a reviewer could not reject", async () => {
    const refusal = (interrupt: Interrupt) =>
      ask("test.langchain.refused.v1", "thread-x", interrupt).then(
        () => undefined,
        (error: ValidationError) => error,
      );
    const notHitl = await refusal({ id: "abc", value: { approvalId: "x" } });
    expect(notHitl).toBeInstanceOf(ValidationErrorClass);
    const noReject = await refusal({
      id: "abc",
      value: {
        actionRequests: [{ name: "pay", args: { amount: 1 } }],
        reviewConfigs: [{ actionName: "pay", allowedDecisions: ["approve", "edit"] }],
      },
    });
    expect(noReject?.issues[0]?.message).toContain('allow "reject" for pay');
  });

  it("resumes the thread from the worker through onDecision, with no process waiting, exactly once", async () => {
    const { agent, runs } = buildAgent();
    const resumed: ResumedThread<unknown>[] = [];
    resumeOnDecision(bed.approvals, {
      type: WORKER_TYPE,
      agent,
      onResumed: (thread) => {
        resumed.push(thread);
        // The worker dies after the resume, say: the handler runs again, and must not resume twice.
        if (resumed.length === 1) throw new Error("crashed after resuming");
      },
    });
    await bed.approvals.start();

    const { threadId, interrupt } = await pausedThread(agent);
    const approval = await ask(WORKER_TYPE, threadId, interrupt);
    await bed.approvals.decide(approval.id, {
      reviewer: CFO,
      actions: { "call-1": { outcome: "approve" }, "call-2": { outcome: "approve" } },
    });

    const [first, second] = await eventually(() => resumed.length === 2 && resumed, 20_000);
    expect(first).toMatchObject({ threadId, interrupt: undefined, decision: { id: approval.id } });
    expect(first?.result).toBeDefined();
    expect(second).toMatchObject({ threadId, result: undefined, interrupt: undefined });
    expect(runs.map(([name]) => name)).toEqual(["send_email", "pay"]);
    const events = await eventually(async () => {
      const all = (await bed.approvals.events(approval.id)).map((e) => e.type);
      return all.includes("handler_done") && all;
    });
    expect(events.filter((type) => type === "handler_failed")).toHaveLength(1);
    expect(await pendingInterrupt(agent, threadId)).toBeUndefined();
  });
});
