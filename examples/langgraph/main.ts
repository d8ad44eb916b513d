/**
 * The LangGraph.js version of the report agent: the graph drafts the board update, asks the CFO through
 * countersign and pauses with `interrupt()`; this process waits for the decision and resumes the thread
 * with `new Command({ resume: decision })`. Both countersign and the graph's checkpoints live in your
 * Postgres, so a restarted process (same THREAD_ID) picks the paused thread up where it stopped.
 */
import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { FakeListChatModel } from "@langchain/core/utils/testing";
import { Command } from "@langchain/langgraph";
import { PostgresSaver } from "@langchain/langgraph-checkpoint-postgres";
import { consoleChannel, createApprovals } from "countersign";
import { CFO, createReportGraph, type ApprovalInterrupt } from "./report-graph.ts";

const databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl)
  throw new Error("Set DATABASE_URL to your PostgreSQL, e.g. postgres://user:password@localhost:5432/app");
// A schema of this example's own: workers on one schema run each other's jobs (see the README's Operations).
const schema = process.env.COUNTERSIGN_SCHEMA ?? "example_langgraph";

// The links in notifications lead to the approval page: this process serves it while the graph waits.
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
await approvals.start();

// The graph's checkpoints go to the same database, in a schema of their own beside countersign's.
const checkpointer = PostgresSaver.fromConnString(databaseUrl, { schema: `${schema}_langgraph` });
await checkpointer.setup();

// Stands in for a real chat model (ChatOpenAI, ChatAnthropic, …): scripted, so no key and no network.
const model = new FakeListChatModel({
  responses: [
    "Dear board, Q1 closed with revenue of 4.2M EUR, costs of 3.1M EUR and net income of 1.1M EUR. " +
      "The full summary is attached. Kind regards, Finance",
  ],
});

const graph = createReportGraph({
  approvals,
  model,
  checkpointer,
  sendEmail: async (email) => console.log(`Sent report to ${email.to}`),
});

const threadId = process.env.THREAD_ID ?? `board-report-${randomUUID()}`;
const config = { configurable: { thread_id: threadId } };

// A thread that is already paused (this process was restarted while waiting) is not started again.
let snapshot = await graph.getState(config);
if (snapshot.values.verdict === undefined && snapshot.next.length === 0) {
  await graph.invoke({ brief: "Email the board the Q1 financial summary." }, config);
  snapshot = await graph.getState(config);
}
const paused = snapshot.tasks.flatMap((task) => task.interrupts)[0]?.value as ApprovalInterrupt | undefined;

if (paused) {
  console.log(`Approval ${paused.approvalId} requested; thread ${threadId} is paused until ${CFO} decides.`);
  const decision = await approvals.waitForDecision(paused.approvalId);
  console.log(`Resuming thread ${threadId}: ${decision.status} by ${decision.decidedBy ?? "nobody"}.`);
  const result = await graph.invoke(new Command({ resume: decision }), config);
  if (!result.sentTo) console.log(`Not sent: ${decision.status}${decision.comment ? ` (${decision.comment})` : ""}.`);
} else {
  console.log(
    `Thread ${threadId} is not waiting for an approval (verdict: ${snapshot.values.verdict?.status ?? "none"}).`,
  );
}

await checkpointer.end();
// Stop serving once the requests under way are answered (the reviewer's own, which decided, among them).
await new Promise<void>((resolve) => server.close(() => resolve()));
await approvals.stop();
