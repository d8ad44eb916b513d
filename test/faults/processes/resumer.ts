/**
 * A fresh process after the crash: runs the worker (with a channel that reports to stdout), and waits
 * on the approval the dead process created.
 */
import { createApprovals } from "../../../src/index.ts";

const report = (line: object): void => void process.stdout.write(`${JSON.stringify(line)}\n`);
const approvals = createApprovals({
  connectionString: process.env.DATABASE_URL,
  schema: process.env.COUNTERSIGN_SCHEMA,
  publicUrl: "https://app.example.test/approvals",
  secret: process.env.COUNTERSIGN_SECRET ?? "",
  worker: { pollInterval: 50 },
  channels: [{ name: "stdout", send: async (n) => report({ notification: n.kind, reviewer: n.reviewer }) }],
});
await approvals.start();
report({ ready: true });
const decision = await approvals.waitForDecision(process.env.APPROVAL_ID ?? "");
report({ decision });
await approvals.stop();
