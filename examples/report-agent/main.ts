/**
 * The seed scenario in plain TypeScript: an agent writes the quarterly financial report, asks the CFO to
 * review it, pauses until the CFO decides, then emails the board (or does not).
 */
import { consoleChannel, createApprovals } from "countersign";

const approvals = createApprovals({
  connectionString: process.env.DATABASE_URL,
  schema: process.env.COUNTERSIGN_SCHEMA ?? "countersign",
  publicUrl: process.env.PUBLIC_URL ?? "http://localhost:3000/approvals",
  secret: process.env.COUNTERSIGN_SECRET ?? "dev-only-secret-do-not-use-in-production",
  channels: [consoleChannel()],
});

function generateQuarterlyReport() {
  return { report: "Q1 Financial Summary", revenue: 4_200_000, costs: 3_100_000, pii_detected: false };
}

function emailTheBoard(report: { report: string }) {
  console.log(`Sent "${report.report}" to board@company.com`);
}

await approvals.migrate();
await approvals.start();

const report = generateQuarterlyReport();
const approval = await approvals.requestApproval({
  type: "report.review_approval.v1",
  title: report.report,
  payload: report,
  requestedBy: "agent://myorg/production/report-generator",
  reviewers: ["cfo@company.com"],
  escalation: [["cfo-deputy@company.com"]],
  timeout: { after: "8h", action: "reject" },
  idempotencyKey: process.env.IDEMPOTENCY_KEY ?? `q1-board-report-${Date.now()}`,
});
console.log(`Approval ${approval.id} requested; the agent pauses until cfo@company.com decides.`);

const decision = await approvals.waitForDecision(approval.id);
if (decision.approved) emailTheBoard(report);
else console.log(`Not sent: ${decision.status}${decision.comment ? ` (${decision.comment})` : ""}.`);
await approvals.stop();
