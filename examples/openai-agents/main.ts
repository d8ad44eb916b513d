/**
 * An OpenAI Agents SDK agent pays a supplier invoice with a tool that needs approval. The run stops at
 * the tool call, its state is saved, and countersign asks the CFO. The CFO's decision is applied to the
 * restored state and the run resumes: an approval runs the tool; a rejection reaches the model as the
 * tool's result, with the CFO's comment, and the tool never runs.
 *
 *   npm start -w examples/openai-agents                           start a run
 *   npm start -w examples/openai-agents -- --resume <approval-id> resume it in a new process
 */
import { randomBytes, randomUUID } from "node:crypto";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Agent, run, RunState, setTracingDisabled, tool, type RunToolApprovalItem } from "@openai/agents";
import { consoleChannel, createApprovals, type Decision, type JsonValue } from "countersign";
import { z } from "zod";
import { createTreasuryModel, TASK } from "./scripted-model.ts";

// The SDK exports traces to OpenAI by default; this example makes no network calls.
setTracingDisabled(true);

const REVIEWER = "cfo@company.com";
// A paused run waits hours for a human, so it lives outside the process. In production keep it in your
// own table, written in the same transaction as the approval: requestApproval(request, { db }).
const RUNS_DIR = process.env.AGENT_RUNS_DIR ?? join(tmpdir(), "countersign-openai-agents");

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
await approvals.migrate();
await approvals.start();

const { values } = parseArgs({ options: { resume: { type: "string" } } });
const runId = values.resume ? await runIdOf(values.resume) : `run_${randomUUID()}`;
let result = values.resume ? undefined : await run(agent, TASK);
while (!result || result.interruptions.length > 0) {
  // Saved before anyone is asked, so a process that dies while waiting loses nothing.
  if (result) await saveRun(runId, result.state.toString());
  const state = await RunState.fromString<undefined, typeof agent>(agent, await loadRun(runId));
  await applyDecisions(state);
  result = await run(agent, state);
}
await rm(runFile(runId), { force: true });
console.log(`Agent finished: ${result.finalOutput}`);
// Stop serving once the requests under way are answered (the reviewer's own, which decided, among them).
await new Promise<void>((resolve) => server.close(() => resolve()));
await approvals.stop();

/** Asks a human about every tool call the run stopped at, and records each answer on the state. */
async function applyDecisions(state: RunState<undefined, typeof agent>): Promise<void> {
  const answers = await Promise.all(
    state.getInterruptions().map(async (call) => {
      const toolName = call.name ?? "unnamed_tool";
      const approval = await approvals.requestApproval({
        type: `agent_tool.${toolName}.v1`,
        title: `${call.agent.name} wants to call ${toolName}`,
        payload: {
          tool: toolName,
          arguments: parseArguments(call.arguments),
          agent: call.agent.name,
          agent_run: runId,
        },
        requestedBy: "agent://myorg/production/treasury-agent",
        reviewers: [REVIEWER],
        timeout: { after: "8h", action: "reject" },
        // From the tool call id: a resumed process finds the same approval instead of asking again.
        idempotencyKey: `openai-agents:${callIdOf(call)}`,
      });
      if (approval.status === "pending")
        console.log(`Approval ${approval.id} requested; the agent pauses until ${REVIEWER} decides.`);
      return { call, decision: await approvals.waitForDecision(approval.id) };
    }),
  );
  for (const { call, decision } of answers) {
    const by = decision.decidedBy ? ` by ${decision.decidedBy}` : "";
    console.log(`Approval ${decision.id} ${decision.status}${by}${decision.comment ? `: "${decision.comment}"` : ""}`);
    if (decision.approved) state.approve(call);
    // The message replaces the tool's output in the conversation: the model reads why it was stopped.
    else state.reject(call, { message: rejectionMessage(decision) });
  }
}

function rejectionMessage(decision: Decision): string {
  const comment = decision.comment ? `: "${decision.comment}"` : ".";
  if (decision.status === "rejected") return `${decision.decidedBy} rejected this call${comment}`;
  if (decision.status === "timed_out") return "Nobody approved this call before its deadline.";
  return `The approval request was cancelled${comment}`;
}

function callIdOf(call: RunToolApprovalItem): string {
  const id = "callId" in call.rawItem ? call.rawItem.callId : call.rawItem.id;
  if (!id) throw new Error(`The ${call.name} call has no id to key its approval by.`);
  return id;
}

function parseArguments(text: string | undefined): JsonValue {
  try {
    return JSON.parse(text ?? "{}") as JsonValue;
  } catch {
    return text ?? null; // the reviewer still sees what the model sent
  }
}

/** The run an approval belongs to, from the reference its payload carries. */
async function runIdOf(approvalId: string): Promise<string> {
  const { payload } = await approvals.get(approvalId);
  const ref = payload && typeof payload === "object" && !Array.isArray(payload) ? payload.agent_run : undefined;
  if (typeof ref !== "string" || !/^run_[0-9a-f-]{36}$/.test(ref))
    throw new Error(`Approval ${approvalId} is not an agent run's tool call.`);
  return ref;
}

function runFile(id: string): string {
  return join(RUNS_DIR, `${id}.json`);
}

async function saveRun(id: string, serialized: string): Promise<void> {
  await mkdir(RUNS_DIR, { recursive: true });
  // Written whole or not at all: a crash mid-write must not leave a run that cannot be restored.
  await writeFile(`${runFile(id)}.tmp`, serialized);
  await rename(`${runFile(id)}.tmp`, runFile(id));
  console.log(`Run ${id} paused; its state is saved in ${runFile(id)}.`);
}

async function loadRun(id: string): Promise<string> {
  try {
    return await readFile(runFile(id), "utf8");
  } catch (error) {
    throw new Error(`No saved state for run ${id} in ${RUNS_DIR}: it finished already, or AGENT_RUNS_DIR differs.`, {
      cause: error,
    });
  }
}
