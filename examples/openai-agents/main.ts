/**
 * An OpenAI Agents SDK agent pays a supplier invoice with a tool that needs approval. The run stops at
 * the tool call and countersign asks the CFO, keeping the run's state with the approval in Postgres. Once
 * the CFO decides, the worker restores the state, applies the decision and resumes the run: an approval
 * runs the tool; a rejection reaches the model as the tool's result, with the CFO's reason, and the tool
 * never runs. No process has to wait: a process that dies while the CFO thinks loses nothing.
 *
 *   npm start -w examples/openai-agents                           start a run (it resumes here once decided)
 *   npm start -w examples/openai-agents -- --resume <approval-id> resume a run whose process died, here
 */
import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { parseArgs } from "node:util";
import { Agent, run, setTracingDisabled, tool } from "@openai/agents";
import { consoleChannel, createApprovals } from "countersign";
import { requestRunApprovals, resumeOnDecision } from "countersign/openai-agents";
import { z } from "zod";
import { createTreasuryModel, TASK } from "./scripted-model.ts";

// The SDK exports traces to OpenAI by default; this example makes no network calls.
setTracingDisabled(true);

const REVIEWER = "cfo@company.com";

const sendWireTransfer = tool({
  name: "send_wire_transfer",
  description: "Send a SEPA wire transfer from the company account.",
  parameters: z.object({
    beneficiary: z.string(),
    iban: z.string(),
    amount_eur: z.number().positive(),
    reference: z.string(),
  }),
  // The run stops with an interruption instead of calling execute() until a human has decided.
  needsApproval: true,
  async execute({ beneficiary, iban, amount_eur, reference }) {
    const confirmation = `WT-${randomBytes(4).toString("hex").toUpperCase()}`;
    console.log(
      `Wire sent: ${amount_eur} EUR to ${beneficiary} (${iban}), reference ${reference}, confirmation ${confirmation}.`,
    );
    return { status: "sent", confirmation };
  },
});

const agent = new Agent({
  name: "Treasury agent",
  instructions: "You pay supplier invoices by wire transfer, then report what happened.",
  model: createTreasuryModel(),
  tools: [sendWireTransfer],
});

// The links in notifications lead to the approval page: this process serves it while the agent waits.
const server = createServer();
server.keepAliveTimeout = 500; // an open connection holds up the stop at the end for at most this long
await new Promise<void>((resolve) => server.listen(Number(process.env.PORT ?? 3000), "127.0.0.1", resolve));
const { port } = server.address() as AddressInfo;

const approvals = createApprovals({
  connectionString: process.env.DATABASE_URL,
  // A schema of this example's own: workers on one schema run each other's jobs (see the README's Operations).
  schema: process.env.COUNTERSIGN_SCHEMA ?? "example_openai_agents",
  publicUrl: process.env.PUBLIC_URL ?? `http://127.0.0.1:${port}/approvals`,
  secret: process.env.COUNTERSIGN_SECRET ?? "dev-only-secret-do-not-use-in-production",
  channels: [consoleChannel()],
});
server.on("request", approvals.nodeHandler);

// This process stops once the run behind this approval (or the one it asks about next) has finished.
const { values } = parseArgs({ options: { resume: { type: "string" } } });
let waitingFor = values.resume;
const finished = Promise.withResolvers<void>();
const ask = { requestedBy: "agent://myorg/production/treasury-agent", reviewers: [REVIEWER], timeout: { after: "8h" } };

// The glue. Once the CFO decides, the worker (in whichever process is running) restores the run state kept
// with the approval, approves or rejects each tool call, and resumes the run; more tool calls get a new batch.
resumeOnDecision(approvals, {
  agent,
  request: ask,
  onResult: (result, { decision, next }) => {
    console.log(`Approval ${decision.id} ${decision.status} by ${decision.decidedBy ?? "nobody"}; the run resumed.`);
    if (next) console.log(`Approval ${next.id} requested; the agent pauses until ${REVIEWER} decides.`);
    else console.log(`Agent finished: ${result.finalOutput}`);
    if (decision.id !== waitingFor) return;
    if (next) waitingFor = next.id;
    else finished.resolve();
  },
});
await approvals.migrate();
await approvals.start();

const result = waitingFor ? undefined : await run(agent, TASK);
if (result && result.interruptions.length === 0) {
  console.log(`Agent finished: ${result.finalOutput}`); // no tool call needed approval
  finished.resolve();
} else if (result) {
  // One review of the tool calls the run stopped at; the run state is saved with it, in the same statement.
  const approval = await requestRunApprovals(approvals, result, ask);
  waitingFor = approval.id;
  console.log(`Approval ${approval.id} requested; the agent pauses until ${REVIEWER} decides.`);
}
await finished.promise;
// Stop serving once the requests under way are answered (the reviewer's own, which decided, among them).
await new Promise<void>((resolve) => server.close(() => resolve()));
await approvals.stop();
