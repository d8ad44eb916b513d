/**
 * A support agent built on the Vercel AI SDK (v7) that may refund orders, but only once a billing lead has
 * approved the refund through countersign. The SDK's tool approval does the pausing on the agent's side:
 * `generateText` stops at a `tool-approval-request` instead of executing the tool; countersign turns that
 * request into a durable approval, notifies the reviewer and waits; its decision goes back to the SDK as a
 * `tool-approval-response`, and the second `generateText` call runs the tool (or tells the model why not).
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { generateText, tool, type ModelMessage, type ToolApprovalResponse } from "ai";
import { MockLanguageModelV4 } from "ai/test";
import { consoleChannel, createApprovals, type Decision, type JsonValue } from "countersign";
import { z } from "zod";

const REVIEWER = "billing-lead@company.com";

// The links in notifications lead to the approval page: this process serves it while the agent waits.
const server = createServer();
server.keepAliveTimeout = 500; // an open connection holds up the stop at the end for at most this long
await new Promise<void>((resolve) => server.listen(Number(process.env.PORT ?? 3000), "127.0.0.1", resolve));
const { port } = server.address() as AddressInfo;

const approvals = createApprovals({
  connectionString: process.env.DATABASE_URL,
  // A schema of this example's own: workers on one schema run each other's jobs (see the README's Operations).
  schema: process.env.COUNTERSIGN_SCHEMA ?? "example_ai_sdk",
  publicUrl: process.env.PUBLIC_URL ?? `http://127.0.0.1:${port}/approvals`,
  secret: process.env.COUNTERSIGN_SECRET ?? "dev-only-secret-do-not-use-in-production",
  channels: [consoleChannel()],
});

const refundOrder = tool({
  description: "Refund an order to the customer's original payment method.",
  inputSchema: z.object({
    orderId: z.string(),
    amount: z.number().positive(),
    currency: z.string().length(3),
    reason: z.string(),
  }),
  execute: async ({ orderId, amount, currency }) => {
    console.log(`refundOrder executed: refunded ${amount.toFixed(2)} ${currency} on order ${orderId}`);
    return { refundId: `re_${orderId}`, status: "succeeded" };
  },
});

function runSupportAgent(messages: ModelMessage[]) {
  return generateText({
    // Swap in a real model (e.g. `openai("gpt-5")`); the scripted one keeps this example offline.
    model: scriptedSupportModel(),
    instructions: "You are a support agent. When a tool execution is not approved, do not retry it.",
    tools: { refundOrder },
    // Money leaves the company: the SDK must never run this tool without an explicit decision.
    // Pass the same policy on the continuation too: the SDK re-checks approved calls against it.
    toolApproval: { refundOrder: "user-approval" },
    messages,
  });
}

server.on("request", approvals.nodeHandler);
await approvals.migrate();
await approvals.start();

const messages: ModelMessage[] = [
  { role: "user", content: "Order A-1042 arrived damaged. I'd like my 129.00 USD back, please." },
];
const first = await runSupportAgent(messages);
messages.push(...first.responseMessages);

const pending: { approvalId: string; countersignId: string }[] = [];
for (const part of first.content) {
  if (part.type !== "tool-approval-request" || part.isAutomatic) continue;
  const { toolName, toolCallId, input } = part.toolCall;
  const approval = await approvals.requestApproval({
    type: `ai-sdk.tool.${toolName}.v1`,
    title: `Support agent wants to run ${toolName}`,
    // Tool inputs are parsed from the model's JSON, so they are plain JSON already.
    payload: { tool: toolName, toolCallId, input: input as JsonValue },
    requestedBy: "agent://acme/support/refund-agent",
    reviewers: [REVIEWER],
    timeout: { after: "8h", action: "reject" },
    // The SDK's approval id names this request inside the conversation, so a process that resumes from
    // the saved messages gets the same approval back instead of asking the reviewer twice.
    idempotencyKey: `ai-sdk:${part.approvalId}`,
  });
  console.log(`Approval ${approval.id} requested; the agent pauses until ${REVIEWER} decides on ${toolName}.`);
  pending.push({ approvalId: part.approvalId, countersignId: approval.id });
}

if (pending.length === 0) {
  console.log(`Agent: ${first.text}`);
} else {
  const responses = await Promise.all(
    pending.map(async ({ approvalId, countersignId }) =>
      toApprovalResponse(approvalId, await approvals.waitForDecision(countersignId)),
    ),
  );
  messages.push({ role: "tool", content: responses });
  const final = await runSupportAgent(messages);
  console.log(`Agent: ${final.text}`);
}
// Stop serving once the requests under way are answered (the reviewer's own, which decided, among them).
await new Promise<void>((resolve) => server.close(() => resolve()));
await approvals.stop();

/** The SDK passes a denial's `reason` to the model, so the reviewer's comment is what the model reads. */
function toApprovalResponse(approvalId: string, decision: Decision): ToolApprovalResponse {
  const by = decision.decidedBy ?? "nobody";
  console.log(`Decision: ${decision.status} by ${by}${decision.comment ? ` ("${decision.comment}")` : ""}`);
  return {
    type: "tool-approval-response",
    approvalId,
    approved: decision.approved,
    reason:
      decision.comment ??
      (decision.status === "timed_out" ? "no reviewer decided in time" : `${decision.status} by ${by}`),
  };
}

/**
 * The AI SDK's own mock model, scripted like a real one would behave: asked for a refund, it calls
 * `refundOrder`; shown the tool's outcome, it reports it, quoting the reason when the call was denied.
 */
function scriptedSupportModel() {
  const usage = {
    inputTokens: { total: 50, noCache: 50, cacheRead: undefined, cacheWrite: undefined },
    outputTokens: { total: 20, text: 20, reasoning: undefined },
  };
  return new MockLanguageModelV4({
    doGenerate: async ({ prompt }) => {
      const outcome = prompt
        .flatMap((message) => (message.role === "tool" ? message.content : []))
        .find((part) => part.type === "tool-result" && part.toolName === "refundOrder");
      if (outcome?.type !== "tool-result") {
        const input = { orderId: "A-1042", amount: 129, currency: "USD", reason: "Arrived damaged" };
        return {
          content: [
            {
              type: "tool-call",
              toolCallId: "call_refund_A-1042",
              toolName: "refundOrder",
              input: JSON.stringify(input),
            },
          ],
          finishReason: { unified: "tool-calls", raw: "tool_calls" },
          usage,
          warnings: [],
        };
      }
      const text =
        outcome.output.type === "execution-denied"
          ? `I could not refund order A-1042: ${outcome.output.reason ?? "the refund was not approved"}.`
          : "Your refund of 129.00 USD for order A-1042 is on its way.";
      return { content: [{ type: "text", text }], finishReason: { unified: "stop", raw: "stop" }, usage, warnings: [] };
    },
  });
}
