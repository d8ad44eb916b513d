/**
 * The seed scenario in plain TypeScript, against your database: the agent asks the CFO, pauses, and
 * emails the board once approved. Decide from another terminal with `npx countersign approve <id> --as
 * cfo@company.com`, or open the printed link while your app serves the HTTP handler.
 */
import { consoleChannel, createApprovals } from "countersign";
import { runReportAgent } from "./report-agent.ts";

const approvals = createApprovals({
  connectionString: process.env.DATABASE_URL,
  schema: process.env.COUNTERSIGN_SCHEMA ?? "countersign",
  publicUrl: process.env.PUBLIC_URL ?? "http://localhost:3000/approvals",
  secret: process.env.COUNTERSIGN_SECRET ?? "dev-only-secret-do-not-use-in-production",
  channels: [consoleChannel()],
});
await approvals.migrate();
await approvals.start();

const decision = await runReportAgent(
  approvals,
  {
    paused: (approval) => console.log(`Approval ${approval.id} requested; the agent pauses until cfo@company.com decides.`),
    emailTheBoard: async (report) => console.log(`Sent "${report.report}" to board@company.com`),
  },
  { idempotencyKey: process.env.IDEMPOTENCY_KEY ?? `board-report-${Date.now()}` },
);
if (!decision.approved) console.log(`Not sent: ${decision.status}${decision.comment ? ` (${decision.comment})` : ""}.`);
await approvals.stop();
