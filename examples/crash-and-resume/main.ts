/**
 * An agent that survives its own crash. Its task has a stable name, used as the idempotency key: every
 * run of this program asks for the same approval, so a process that dies while waiting loses nothing.
 * The next run finds the approval in the database, waits for (or already has) the decision, and acts.
 *
 *   npm start -w examples/crash-and-resume   # asks, waits… kill it (Ctrl-C, kill -9, a deploy)
 *   npm start -w examples/crash-and-resume   # a new process: resumes the same approval and acts on the decision
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { consoleChannel, createApprovals } from "countersign";

const task = process.env.TASK ?? "payout-2026-11-25";

// The links in notifications lead to the approval page: every run serves it, at the same address, so the
// link the first run printed still works in the next one.
const server = createServer();
server.keepAliveTimeout = 500; // an open connection holds up the stop at the end for at most this long
await new Promise<void>((resolve) => server.listen(Number(process.env.PORT ?? 3000), "127.0.0.1", resolve));
const { port } = server.address() as AddressInfo;

const approvals = createApprovals({
  connectionString: process.env.DATABASE_URL,
  // A schema of this example's own: workers on one schema run each other's jobs (see the README's Operations).
  schema: process.env.COUNTERSIGN_SCHEMA ?? "example_crash_and_resume",
  publicUrl: process.env.PUBLIC_URL ?? `http://127.0.0.1:${port}/approvals`,
  secret: process.env.COUNTERSIGN_SECRET ?? "dev-only-secret-do-not-use-in-production",
  channels: [consoleChannel()],
});
server.on("request", approvals.nodeHandler);
await approvals.migrate();
await approvals.start();

const approval = await approvals.requestApproval({
  type: "payout.batch.v1",
  title: `Pay out the ${task} batch`,
  payload: { batch: task, payees: 42, total: "18,250.00 EUR" },
  requestedBy: "agent://finance/payout-bot",
  reviewers: ["treasurer@company.com"],
  reminders: ["1m"],
  idempotencyKey: `payout:${task}`,
});
const resumed = Date.now() - approval.createdAt.getTime() > 1000;
console.log(
  resumed
    ? `Resuming approval ${approval.id} (requested ${approval.createdAt.toISOString()}, before this process started); status ${approval.status}.`
    : `Approval ${approval.id} requested; waiting for treasurer@company.com.`,
);

const decision = await approvals.waitForDecision(approval.id);
if (decision.approved) console.log(`Paid out ${task}: 42 payees, 18,250.00 EUR (approved by ${decision.decidedBy}).`);
else console.log(`Not paid: ${decision.status}${decision.comment ? ` (${decision.comment})` : ""}.`);
// Stop serving once the requests under way are answered (the reviewer's own, which decided, among them).
await new Promise<void>((resolve) => server.close(() => resolve()));
await approvals.stop();
