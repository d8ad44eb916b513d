/**
 * A worker process with one `onDecision` handler. The handler reports when it starts, then POSTs to
 * SINK_URL and waits for the answer (so a test can hold it "in flight" and kill the process), and
 * reports when it is done.
 */
import { createApprovals } from "../../../src/index.ts";

const report = (line: object): void => void process.stdout.write(`${JSON.stringify(line)}\n`);
const approvals = createApprovals({
  connectionString: process.env.DATABASE_URL,
  schema: process.env.COUNTERSIGN_SCHEMA,
  publicUrl: "https://app.example.test/approvals",
  secret: process.env.COUNTERSIGN_SECRET ?? "",
  worker: { pollInterval: 50, recoverWithin: process.env.RECOVER_WITHIN ?? "6s" },
});
approvals.onDecision(process.env.HANDLER_TYPE ?? "*", async (decision, { attempt, key }) => {
  report({ handling: decision.id, attempt, key });
  const response = await fetch(process.env.SINK_URL ?? "", {
    method: "POST",
    headers: { "content-type": "application/json", "x-worker": String(process.pid) },
    body: JSON.stringify({ key, kind: "resume", reviewer: "", approvalId: decision.id }),
    signal: AbortSignal.timeout(30_000),
  });
  if (!response.ok) throw new Error(`sink answered ${response.status}`);
  report({ handled: decision.id, attempt });
});
await approvals.start();
report({ ready: true, pid: process.pid });
process.once("SIGTERM", () => void approvals.stop().then(() => process.exit(0)));
