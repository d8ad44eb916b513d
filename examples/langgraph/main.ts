/**
 * The report agent on langchain's `createAgent`: its `send_email` tool call pauses the thread
 * (`humanInTheLoopMiddleware`), countersign asks the CFO to approve, edit or reject it, and the worker
 * resumes the thread once the CFO has decided (`resumeOnDecision`). Both countersign and the agent's
 * checkpoints live in your Postgres, so no process has to wait: a process started later (same THREAD_ID)
 * resumes the paused thread from its checkpoint.
 */
import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { PostgresSaver } from "@langchain/langgraph-checkpoint-postgres";
import { consoleChannel, createApprovals } from "countersign";
import { pendingInterrupt, requestInterruptApproval, resumeOnDecision } from "countersign/langchain";
import { BRIEF, CFO, createReportAgent, REVIEW, scriptedModel } from "./report-agent.ts";

const databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl)
  throw new Error("Set DATABASE_URL to your PostgreSQL, e.g. postgres://user:password@localhost:5432/app");
// A schema of this example's own: workers on one schema run each other's jobs (see the README's Operations).
const schema = process.env.COUNTERSIGN_SCHEMA ?? "example_langgraph";

// The links in notifications lead to the approval page: this process serves it while the thread waits.
const server = createServer();
server.keepAliveTimeout = 500; // an open connection holds up the stop at the end for at most this long
await new Promise<void>((resolve) => server.listen(Number(process.env.PORT ?? 3000), "127.0.0.1", resolve));
const { port } = server.address() as AddressInfo;

const approvals = createApprovals({
  connectionString: databaseUrl,
  schema,
  publicUrl: process.env.PUBLIC_URL ?? `http://127.0.0.1:${port}/approvals`,
  secret: process.env.COUNTERSIGN_SECRET ?? "dev-only-secret-do-not-use-in-production",
  channels: [consoleChannel()],
});
server.on("request", approvals.nodeHandler);
await approvals.migrate();

// The agent's checkpoints go to the same database, in a schema of their own beside countersign's.
const checkpointer = PostgresSaver.fromConnString(databaseUrl, { schema: `${schema}_langgraph` });
await checkpointer.setup();
const agent = createReportAgent({
  model: scriptedModel(),
  checkpointer,
  sendEmail: async (email) => console.log(`Sent "${email.subject}" to ${email.to}`),
});
const threadId = process.env.THREAD_ID ?? `board-report-${randomUUID()}`;
// Prints what the agent said once resumed, and lets this example exit then (a server would keep running).
const { promise: finished, resolve: finish } = Promise.withResolvers<void>();
const printOutcome = (thread: string, said?: string) => {
  if (thread !== threadId) return;
  console.log(`Agent: ${said ?? "(the thread was resumed by an earlier run)"}`);
  finish();
};

// The worker resumes a thread once its review is decided: here, or in any process with this handler.
resumeOnDecision(approvals, {
  type: REVIEW.type,
  agent,
  onResumed: ({ threadId: thread, result }) => printOutcome(thread, result?.messages.at(-1)?.text),
});
// A thread already paused (this process was restarted) is asked about again, not started again.
const interrupt =
  (await pendingInterrupt(agent, threadId)) ??
  (await agent.invoke({ messages: [{ role: "user", content: BRIEF }] }, { configurable: { thread_id: threadId } }))
    .__interrupt__?.[0];
await approvals.start(); // after reading the checkpoint: the worker may resume the thread at once
if (interrupt) {
  const approval = await requestInterruptApproval(approvals, { ...REVIEW, threadId, interrupt });
  console.log(`Approval ${approval.id} requested; thread ${threadId} is paused until ${CFO} decides.`);
  await finished;
} else console.log(`Thread ${threadId} is not waiting for a review.`);

await checkpointer.end();
// Stop serving once the requests under way are answered (the reviewer's own, which decided, among them).
await new Promise<void>((resolve) => server.close(() => resolve()));
await approvals.stop();
