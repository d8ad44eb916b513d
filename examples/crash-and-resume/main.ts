/**
 * An agent that survives its own crash. Its task has a stable name, used as the idempotency key: every
 * run of this program asks for the same approval, so a process that dies while waiting loses nothing.
 * The next run finds the approval in the database, waits for (or already has) the decision, and acts.
 *
 *   node main.ts            # asks, waits… kill it (Ctrl-C, kill -9, a deploy)
 *   node main.ts            # a new process: resumes the same approval and acts on the decision
 */
import { consoleChannel, createApprovals } from "countersign";

const task = process.env.TASK ?? "payout-2026-11-25";
const approvals = createApprovals({
  connectionString: process.env.DATABASE_URL,
  schema: process.env.COUNTERSIGN_SCHEMA ?? "countersign",
  publicUrl: process.env.PUBLIC_URL ?? "http://localhost:3000/approvals",
  secret: process.env.COUNTERSIGN_SECRET ?? "dev-only-secret-do-not-use-in-production",
  channels: [consoleChannel()],
});
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
await approvals.stop();
