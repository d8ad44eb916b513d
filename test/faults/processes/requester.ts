/** An agent process: asks for approval, prints the id, then waits (until it is killed). */
import { createApprovals } from "../../../src/index.ts";

const approvals = createApprovals({
  connectionString: process.env.DATABASE_URL,
  schema: process.env.COUNTERSIGN_SCHEMA,
  publicUrl: "https://app.example.test/approvals",
  secret: process.env.COUNTERSIGN_SECRET ?? "",
});
const approval = await approvals.requestApproval({
  type: "deploy.v1",
  title: "Deploy v2 to prod",
  requestedBy: "agent://deployer",
  reviewers: ["sre@company.com"],
  reminders: ["1s"],
  idempotencyKey: process.env.IDEMPOTENCY_KEY,
});
process.stdout.write(`${JSON.stringify({ id: approval.id })}\n`);
await approvals.waitForDecision(approval.id);
process.stdout.write("unexpected: the requester was not killed\n");
