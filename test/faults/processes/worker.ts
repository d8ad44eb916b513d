/**
 * A worker process: runs countersign's worker with one channel that POSTs each notification to SINK_URL
 * and waits for the answer (so a test can hold a delivery "in flight"), and stops gracefully on SIGTERM.
 */
import { createApprovals } from "../../../src/index.ts";

const report = (line: object): void => void process.stdout.write(`${JSON.stringify(line)}\n`);
const approvals = createApprovals({
  connectionString: process.env.DATABASE_URL,
  schema: process.env.COUNTERSIGN_SCHEMA,
  publicUrl: "https://app.example.test/approvals",
  secret: process.env.COUNTERSIGN_SECRET ?? "",
  worker: { pollInterval: 50, recoverWithin: process.env.RECOVER_WITHIN ?? "6s" },
  delivery: { maxAttempts: 3 },
  channels: [
    {
      name: "sink",
      async send(n) {
        const response = await fetch(process.env.SINK_URL ?? "", {
          method: "POST",
          headers: { "content-type": "application/json", "x-worker": String(process.pid) },
          body: JSON.stringify({ key: n.key, kind: n.kind, reviewer: n.reviewer, approvalId: n.approval.id }),
          signal: AbortSignal.timeout(30_000),
        });
        if (!response.ok) throw new Error(`sink answered ${response.status}`);
      },
    },
  ],
});
await approvals.start();
report({ ready: true, pid: process.pid });
process.once("SIGTERM", () => {
  report({ stopping: true });
  void approvals.stop().then(() => {
    report({ stopped: true });
    process.exit(0);
  });
});
