/**
 * The seed scenario in plain TypeScript, against your database: the agent asks the CFO, pauses, and
 * emails the board once approved. The CFO decides on the approval page, which this process serves (the
 * console channel prints its link), or from another terminal in the clone with
 * `npx countersign approve <id> --as cfo@company.com --schema example_report_agent`.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { consoleChannel, createApprovals } from "countersign";
import { runReportAgent } from "./report-agent.ts";

// The links in notifications lead to the approval page: this process serves it while the agent waits.
const server = createServer();
server.keepAliveTimeout = 500; // an open connection holds up the stop at the end for at most this long
await new Promise<void>((resolve) => server.listen(Number(process.env.PORT ?? 3000), "127.0.0.1", resolve));
const { port } = server.address() as AddressInfo;

const approvals = createApprovals({
  connectionString: process.env.DATABASE_URL,
  // A schema of this example's own: workers on one schema run each other's jobs (see the README's Operations).
  schema: process.env.COUNTERSIGN_SCHEMA ?? "example_report_agent",
  publicUrl: process.env.PUBLIC_URL ?? `http://127.0.0.1:${port}/approvals`,
  secret: process.env.COUNTERSIGN_SECRET ?? "dev-only-secret-do-not-use-in-production",
  channels: [consoleChannel()],
});
server.on("request", approvals.nodeHandler);
await approvals.migrate();
await approvals.start();

const decision = await runReportAgent(
  approvals,
  {
    paused: (approval) =>
      console.log(`Approval ${approval.id} requested; the agent pauses until cfo@company.com decides.`),
    emailTheBoard: async (report) => console.log(`Sent "${report.report}" to board@company.com`),
  },
  { idempotencyKey: process.env.IDEMPOTENCY_KEY ?? `board-report-${Date.now()}` },
);
if (!decision.approved) console.log(`Not sent: ${decision.status}${decision.comment ? ` (${decision.comment})` : ""}.`);
// Stop serving once the requests under way are answered (the reviewer's own, which decided, among them).
await new Promise<void>((resolve) => server.close(() => resolve()));
await approvals.stop();
