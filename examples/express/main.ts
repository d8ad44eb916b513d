/**
 * An Express app that mounts countersign's handler and asks a human before issuing a refund. The refund
 * row and its approval are created in ONE transaction of the app's own, so neither exists without the
 * other.
 *
 *   POST /refunds {"order": "A-1001", "amount": 250}  → 202 { refund, approvalId }
 *   GET  /refunds/:id                                  → the refund and its approval's status
 *   /approvals/...                                     → countersign (review page, Slack, health)
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { consoleChannel, createApprovals } from "countersign";
import { expressHandler } from "countersign/express";
import express from "express";
import pg from "pg";

const port = Number(process.env.PORT ?? 3000);
// countersign's tables in its schema, the app's own in another: neither migrates or drops the other's.
const schema = process.env.COUNTERSIGN_SCHEMA ?? "example_express";
const appSchema = process.env.APP_SCHEMA ?? "example_express_app";
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
const server = createServer();
await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", () => resolve()));
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

const approvals = createApprovals({
  pool, // the app's own pool, shared with countersign
  schema,
  publicUrl: process.env.PUBLIC_URL ?? `${base}/approvals`,
  secret: process.env.COUNTERSIGN_SECRET ?? "dev-only-secret-do-not-use-in-production",
  channels: [consoleChannel()],
});
await approvals.migrate();
await approvals.start();
await pool.query(`create schema if not exists "${appSchema}";
  create table if not exists "${appSchema}".refund (
  id serial primary key, order_id text not null, amount numeric not null, approval_id uuid not null, issued_at timestamptz)`);

const app = express();
app.use(express.json()); // the handler works before or after body parsers
app.use("/approvals", expressHandler(approvals));

app.post("/refunds", async (req, res, next) => {
  const client = await pool.connect();
  try {
    await client.query("begin");
    const { order, amount } = req.body as { order: string; amount: number };
    const approval = await approvals.requestApproval(
      {
        type: "refund.issue.v1",
        title: `Refund ${amount} EUR on order ${order}`,
        payload: { order, amount, currency: "EUR" },
        requestedBy: "agent://support/refund-bot",
        reviewers: ["support-lead@company.com"],
      },
      { db: client }, // inside the app's transaction
    );
    const { rows } = await client.query(
      `insert into "${appSchema}".refund (order_id, amount, approval_id) values ($1, $2, $3) returning id`,
      [order, amount, approval.id],
    );
    await client.query("commit");
    res.status(202).json({ refund: rows[0].id, approvalId: approval.id });
    // The agent's side: wait for the human, then act. (A real app would run this in a job.)
    void approvals.waitForDecision(approval.id).then(async (decision) => {
      if (!decision.approved) return console.log(`Refund ${rows[0].id} not issued: ${decision.status}`);
      await pool.query(`update "${appSchema}".refund set issued_at = now() where id = $1`, [rows[0].id]);
      console.log(`Refund ${rows[0].id} issued after approval by ${decision.decidedBy}`);
    });
  } catch (error) {
    await client.query("rollback");
    next(error);
  } finally {
    client.release();
  }
});

app.get("/refunds/:id", async (req, res) => {
  const { rows } = await pool.query(`select * from "${appSchema}".refund where id = $1`, [req.params.id]);
  if (!rows[0]) return void res.status(404).json({ error: "no such refund" });
  const approval = await approvals.get(rows[0].approval_id);
  res.json({ refund: rows[0], approval: { status: approval.status, decision: approval.decision } });
});

server.on("request", app);
console.log(`Listening on ${base} (approval pages under ${base}/approvals)`);

const stop = async () => {
  server.close();
  await approvals.stop();
  await pool.end();
};
process.once("SIGINT", stop);
process.once("SIGTERM", stop);
