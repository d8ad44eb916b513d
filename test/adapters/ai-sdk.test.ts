/**
 * `countersign/ai-sdk` against the real `ai` package (v7) and its own mock model: the SDK's tool approval
 * requests become one countersign batch, and the batch's decision goes back as tool-approval-responses.
 */
import { generateText, type ModelMessage, streamText, tool } from "ai";
import { convertArrayToReadableStream, MockLanguageModelV4 } from "ai/test";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import {
  AI_SDK_TOOL_CALLS_TYPE,
  EditedToolInputError,
  requestToolApprovals,
  toolApprovalMessage,
} from "../../src/adapters/ai-sdk.ts";
import { ValidationError } from "../../src/index.ts";
import { useTestBed } from "../support/test-bed.ts";

const bed = useTestBed("ai_sdk_adapter");
const REVIEWER = "billing-lead@company.com";
const ASK: ModelMessage[] = [
  { role: "user", content: "Order A-1042 arrived damaged: refund me and confirm by e-mail." },
];
const REFUND = { orderId: "A-1042", amount: 129, currency: "USD" };
const EMAIL = { to: "jane@example.com", subject: "Your refund for A-1042" };
const usage = {
  inputTokens: { total: 50, noCache: 50, cacheRead: undefined, cacheWrite: undefined },
  outputTokens: { total: 20, text: 20, reasoning: undefined },
};

/**
 * A support agent whose scripted model first calls refundOrder and sendEmail (both need a person) and
 * lookupOrder (approved automatically by the SDK's policy), then reports each tool's outcome as text.
 * `executed` records every tool run; `said` each answer the model wrote from the tool results it saw.
 */
function supportAgent(firstTurn: "tools" | "text" = "tools") {
  const executed: string[] = [];
  const said: string[] = [];
  const tools = {
    refundOrder: tool({
      inputSchema: z.object({ orderId: z.string(), amount: z.number(), currency: z.string() }),
      execute: async ({ orderId, amount }) => void executed.push(`refundOrder ${orderId} ${amount}`),
    }),
    sendEmail: tool({
      inputSchema: z.object({ to: z.string(), subject: z.string() }),
      execute: async ({ to }) => void executed.push(`sendEmail ${to}`),
    }),
    lookupOrder: tool({
      inputSchema: z.object({ orderId: z.string() }),
      execute: async ({ orderId }) => {
        executed.push(`lookupOrder ${orderId}`);
        return { status: "delivered" };
      },
    }),
  };
  const calls = [
    { toolCallId: "call_refund", toolName: "refundOrder", input: JSON.stringify(REFUND) },
    { toolCallId: "call_email", toolName: "sendEmail", input: JSON.stringify(EMAIL) },
    { toolCallId: "call_lookup", toolName: "lookupOrder", input: JSON.stringify({ orderId: "A-1042" }) },
  ];
  type Prompt = Parameters<MockLanguageModelV4["doGenerate"]>[0]["prompt"];
  const answer = (prompt: Prompt) => {
    const last = prompt.at(-1);
    if (last?.role !== "tool") return undefined;
    const results = last.content;
    const text = results
      .flatMap((part) =>
        part.type === "tool-result"
          ? [`${part.toolName}: ${part.output.type === "execution-denied" ? `denied (${part.output.reason})` : "done"}`]
          : [],
      )
      .join("; ");
    said.push(text);
    return text;
  };
  const model = new MockLanguageModelV4({
    doGenerate: async ({ prompt }) => {
      const text = firstTurn === "text" ? "Nothing to do." : answer(prompt);
      if (text !== undefined) {
        return {
          content: [{ type: "text", text }],
          finishReason: { unified: "stop", raw: "stop" },
          usage,
          warnings: [],
        };
      }
      return {
        content: calls.map((call) => ({ type: "tool-call" as const, ...call })),
        finishReason: { unified: "tool-calls", raw: "tool_calls" },
        usage,
        warnings: [],
      };
    },
    doStream: async () => ({
      stream: convertArrayToReadableStream([
        { type: "stream-start" as const, warnings: [] },
        ...calls.map((call) => ({ type: "tool-call" as const, ...call })),
        { type: "finish" as const, finishReason: { unified: "tool-calls" as const, raw: "tool_calls" }, usage },
      ]),
    }),
  });
  const toolApproval = {
    refundOrder: { type: "user-approval", reason: "Money leaves the company" },
    sendEmail: "user-approval",
    lookupOrder: "approved",
  } as const;
  return {
    executed,
    said,
    generate: (messages: ModelMessage[]) => generateText({ model, tools, toolApproval, messages }),
    stream: (messages: ModelMessage[]) => streamText({ model, tools, toolApproval, messages }),
  };
}

/** The SDK's approval ids of one result, by tool name. */
async function approvalIds(result: { content: unknown }) {
  const content = (await result.content) as { type: string; approvalId?: string; toolCall?: { toolName: string } }[];
  const ids: Record<string, string> = {};
  for (const part of content) {
    if (part.type === "tool-approval-request" && part.toolCall && part.approvalId) {
      ids[part.toolCall.toolName] = part.approvalId;
    }
  }
  return ids;
}

describe("countersign/ai-sdk", () => {
  it("asks once for the two tool calls that need a person, and runs only the one the reviewer approved", async () => {
    const agent = supportAgent();
    const first = await agent.generate(ASK);
    const ids = await approvalIds(first);
    // The SDK approved lookupOrder by itself and ran it; it stopped at the other two.
    expect(agent.executed).toEqual(["lookupOrder A-1042"]);

    const approval = await requestToolApprovals(bed.approvals, first, { reviewers: [REVIEWER] });
    expect(approval).toMatchObject({
      status: "pending",
      type: AI_SDK_TOOL_CALLS_TYPE,
      title: "Agent wants to run refundOrder, sendEmail",
      requestedBy: "agent://ai-sdk",
      actions: [
        // The reason the SDK's toolApproval gave is shown to the reviewer as the action's description.
        { id: ids.refundOrder, name: "refundOrder", input: REFUND, description: "Money leaves the company" },
        { id: ids.sendEmail, name: "sendEmail", input: EMAIL, description: null, editable: [], outcome: "pending" },
      ],
    });
    expect(approval.idempotencyKey).toMatch(/^ai-sdk:[0-9a-f]{64}$/);

    const reason = "Do not e-mail the customer before the refund has settled";
    await bed.approvals.decide(approval.id, {
      reviewer: REVIEWER,
      actions: {
        [ids.refundOrder ?? ""]: { outcome: "approve" },
        [ids.sendEmail ?? ""]: { outcome: "reject", comment: reason },
      },
    });
    const decision = await bed.approvals.waitForDecision(approval.id);
    const message = toolApprovalMessage(decision);
    expect(message).toEqual({
      role: "tool",
      content: [
        {
          type: "tool-approval-response",
          approvalId: ids.refundOrder,
          approved: true,
          reason: `Approved by ${REVIEWER}.`,
        },
        { type: "tool-approval-response", approvalId: ids.sendEmail, approved: false, reason },
      ],
    });

    const second = await agent.generate([...ASK, ...first.responseMessages, message]);
    expect(agent.executed).toEqual(["lookupOrder A-1042", "refundOrder A-1042 129"]);
    // The model sees every tool result of the turn: lookupOrder's from before the pause, then the two decided.
    expect(second.text).toBe(`lookupOrder: done; refundOrder: done; sendEmail: denied (${reason})`);
  });

  it("reads a streamText result's content the same way", async () => {
    const agent = supportAgent();
    const result = agent.stream(ASK);
    const ids = await approvalIds(result);
    const approval = await requestToolApprovals(bed.approvals, result, {
      steps: [{ name: "billing", reviewers: [REVIEWER] }],
      type: "support.refund_tools.v1",
      title: "Refund A-1042 and tell the customer",
      requestedBy: "agent://acme/support",
      metadata: { conversation: "conv_42" },
    });
    expect(approval).toMatchObject({
      type: "support.refund_tools.v1",
      title: "Refund A-1042 and tell the customer",
      requestedBy: "agent://acme/support",
      metadata: { conversation: "conv_42" },
      actions: [{ id: ids.refundOrder }, { id: ids.sendEmail }],
    });
  });

  it("is idempotent on the SDK's approval ids: asking again for the same result returns the same approval", async () => {
    const agent = supportAgent();
    const first = await agent.generate(ASK);
    const once = await requestToolApprovals(bed.approvals, first, { reviewers: [REVIEWER] });
    const again = await requestToolApprovals(bed.approvals, first, { reviewers: [REVIEWER] });
    expect(again.id).toBe(once.id);
    // Another turn of the agent has new approval ids, so it is another approval.
    const other = await requestToolApprovals(bed.approvals, await agent.generate(ASK), { reviewers: [REVIEWER] });
    expect(other.id).not.toBe(once.id);
  });

  it("refuses editable fields up front, since the SDK cannot run a tool with an edited input", async () => {
    const agent = supportAgent();
    const first = await agent.generate(ASK);
    const refused = requestToolApprovals(bed.approvals, first, {
      reviewers: [REVIEWER],
      // @ts-expect-error the option is typed `never`, and refused at run time too
      editable: { refundOrder: ["amount"] },
    });
    await expect(refused).rejects.toThrow(ValidationError);
    await expect(refused).rejects.toThrow(/editable: the AI SDK cannot run a tool with edited input/);

    // Nothing on the batch is editable, so a reviewer's edit is refused by countersign itself.
    const approval = await requestToolApprovals(bed.approvals, first, { reviewers: [REVIEWER] });
    const refundId = approval.actions?.[0]?.id ?? "";
    const edit = bed.approvals.decide(approval.id, {
      reviewer: REVIEWER,
      actions: { [refundId]: { outcome: "approve", edits: { amount: 100 } } },
    });
    await expect(edit).rejects.toThrow(ValidationError);
    expect((await bed.approvals.get(approval.id)).status).toBe("pending");
  });

  it("refuses a decision that approved a tool call with edits rather than run the unedited input", async () => {
    const agent = supportAgent();
    const first = await agent.generate(ASK);
    const ids = await approvalIds(first);
    // A batch made without the adapter, with an editable action: the host could build one by hand.
    const approval = await bed.approvals.requestApproval({
      type: "handmade.tool_calls.v1",
      title: "Refund A-1042",
      requestedBy: "agent://handmade",
      reviewers: [REVIEWER],
      actions: [{ id: ids.refundOrder ?? "", name: "refundOrder", input: REFUND, editable: ["amount"] }],
    });
    await bed.approvals.decide(approval.id, {
      reviewer: REVIEWER,
      actions: { [ids.refundOrder ?? ""]: { outcome: "approve", edits: { amount: 100 } } },
    });
    const decision = await bed.approvals.waitForDecision(approval.id);
    expect(decision.actions?.[0]).toMatchObject({ outcome: "approve", input: { ...REFUND, amount: 100 } });

    let thrown: unknown;
    try {
      toolApprovalMessage(decision);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(EditedToolInputError);
    expect(thrown).toBeInstanceOf(ValidationError);
    expect(thrown).toMatchObject({ code: "VALIDATION", approvalId: approval.id, actionIds: [ids.refundOrder] });
    expect(String(thrown)).toContain("refundOrder was approved with edits (amount)");
    expect(agent.executed).toEqual(["lookupOrder A-1042"]);
  });

  it("answers every tool call not approved, with a reason, when the approval times out or is cancelled", async () => {
    const agent = supportAgent();
    const timedOut = await requestToolApprovals(bed.approvals, await agent.generate(ASK), {
      reviewers: [REVIEWER],
      timeout: { after: "300ms", action: "reject" },
    });
    const late = toolApprovalMessage(await bed.approvals.waitForDecision(timedOut.id));
    expect(late.content).toHaveLength(2);
    for (const part of late.content) {
      expect(part).toMatchObject({
        type: "tool-approval-response",
        approved: false,
        reason: expect.stringMatching(/^No reviewer decided in time/),
      });
    }

    const first = await agent.generate(ASK);
    const cancelled = await requestToolApprovals(bed.approvals, first, { reviewers: [REVIEWER] });
    await bed.approvals.cancel(cancelled.id, { reason: "The customer withdrew the request" });
    const message = toolApprovalMessage(await bed.approvals.waitForDecision(cancelled.id));
    expect(message.content.map((part) => part.type === "tool-approval-response" && part.approved)).toEqual([
      false,
      false,
    ]);
    const second = await agent.generate([...ASK, ...first.responseMessages, message]);
    expect(agent.executed).toEqual(["lookupOrder A-1042", "lookupOrder A-1042"]);
    const withdrawn = "denied (The customer withdrew the request)";
    expect(second.text).toBe(`lookupOrder: done; refundOrder: ${withdrawn}; sendEmail: ${withdrawn}`);
  });

  it("gives every call the reviewer's comment when the whole batch is rejected at once", async () => {
    const agent = supportAgent();
    const first = await agent.generate(ASK);
    const approval = await requestToolApprovals(bed.approvals, first, { reviewers: [REVIEWER] });
    const comment = "Replacement already shipped";
    await bed.approvals.decide(approval.id, { reviewer: REVIEWER, outcome: "reject", comment });
    const message = toolApprovalMessage(await bed.approvals.waitForDecision(approval.id));
    expect(message.content).toMatchObject([
      { approved: false, reason: comment },
      { approved: false, reason: comment },
    ]);
  });

  it("throws a clear error when the result has no approval request that needs a person", async () => {
    const chat = await supportAgent("text").generate(ASK);
    await expect(requestToolApprovals(bed.approvals, chat, { reviewers: [REVIEWER] })).rejects.toThrow(
      /result\.content: has no tool-approval-request that needs a person/,
    );
  });

  it("refuses a decision that is not a batch", async () => {
    const approval = await bed.approvals.requestApproval({
      type: "plain.v1",
      title: "Not a batch",
      requestedBy: "agent://plain",
      reviewers: [REVIEWER],
    });
    await bed.approvals.decide(approval.id, { reviewer: REVIEWER, outcome: "approve" });
    const decision = await bed.approvals.waitForDecision(approval.id);
    expect(() => toolApprovalMessage(decision)).toThrow(/is not a batch/);
  });
});
