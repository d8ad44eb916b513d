/**
 * A support agent built on the Vercel AI SDK (v7) that may refund orders, but only once a billing lead has
 * approved the refund through countersign. The SDK's tool approval does the pausing on the agent's side:
 * `generateText` stops at a `tool-approval-request` instead of executing the tool. `countersign/ai-sdk`
 * turns the requests into one durable approval (one action per tool call) and the decision back into
 * `tool-approval-response`s; an `onDecision` handler runs the second `generateText` call, which runs the
 * tool (or tells the model why not), in whichever process is running when the reviewer decides:
 *
 *   npm start -w examples/ai-sdk                # asks, and waits… kill it (kill -9, a deploy)
 *   npm start -w examples/ai-sdk -- --resume    # a new process: resumes the agent once the reviewer decides
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { generateText, type ModelMessage, tool } from "ai";
import { MockLanguageModelV4 } from "ai/test";
import { consoleChannel, createApprovals } from "countersign";
import { AI_SDK_TOOL_CALLS_TYPE, requestToolApprovals, toolApprovalMessage } from "countersign/ai-sdk";
import { z } from "zod";

const REVIEWER = "billing-lead@company.com";
const resuming = process.argv.includes("--resume");

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

// The agent resumes here, in the worker, once the approval is final: in this process, or in the next one
// when this one died while waiting. The conversation comes back from the approval's metadata.
const { promise: done, resolve: finished } = Promise.withResolvers<void>();
let asked: string | undefined; // this run's approval; with --resume, the first one decided
approvals.onDecision(AI_SDK_TOOL_CALLS_TYPE, async (decision, { approval }) => {
  console.log(`Decision: ${decision.status} by ${decision.decidedBy ?? "nobody"}`);
  const messages = approval.metadata?.messages as unknown as ModelMessage[];
  const final = await runSupportAgent([...messages, toolApprovalMessage(decision)]);
  console.log(`Agent: ${final.text}`);
  if (resuming || approval.id === asked) finished();
});

server.on("request", approvals.nodeHandler);
await approvals.migrate();
await approvals.start();

if (!resuming) {
  const messages: ModelMessage[] = [
    { role: "user", content: "Order A-1042 arrived damaged. I'd like my 129.00 USD back, please." },
  ];
  const first = await runSupportAgent(messages);
  const approval = await requestToolApprovals(approvals, first, {
    reviewers: [REVIEWER],
    requestedBy: "agent://acme/support/refund-agent",
    // Plain JSON (the SDK's messages carry `undefined` fields), for the handler above to continue from.
    metadata: { messages: JSON.parse(JSON.stringify([...messages, ...first.responseMessages])) },
  });
  asked = approval.id;
  console.log(`Approval ${approval.id} requested; the agent pauses until ${REVIEWER} decides.`);
} else console.log("Resuming: waiting for a decision on the agent's tool calls.");

await done;
// Stop serving once the requests under way are answered (the reviewer's own, which decided, among them).
await new Promise<void>((resolve) => server.close(() => resolve()));
await approvals.stop();

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
