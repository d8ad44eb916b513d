/**
 * Renders the approval page at phone width (360 px) in Debian's Chromium and writes
 * docs/approval-page.png (and docs/approval-page-dark.png). Uses DATABASE_URL, else an embedded Postgres.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { createApprovals } from "../src/index.ts";
import { launchChromium } from "../test/support/browser.ts";
import { startEmbeddedPostgres } from "../test/support/embedded-postgres.ts";
import { tokenFor } from "../test/support/http-servers.ts";
import pg from "pg";

const secret = "screenshot-secret-0123456789-0123456789";
const database = process.env.DATABASE_URL
  ? { url: process.env.DATABASE_URL, stop: async () => {} }
  : await startEmbeddedPostgres();
const schema = `screenshot_${Date.now()}`;
const approvals = createApprovals({
  connectionString: database.url,
  schema,
  publicUrl: "http://127.0.0.1/approvals",
  secret,
});
const pool = new pg.Pool({ connectionString: database.url });
const server = createServer(approvals.nodeHandler);
try {
  await approvals.migrate();
  const approval = await approvals.requestApproval({
    type: "report.review_approval.v1",
    title: "Q1 Financial Summary",
    payload: {
      report: "Q1 Financial Summary",
      period: "2026-01-01 to 2026-03-31",
      revenue: "4,200,000 EUR",
      costs: "3,100,000 EUR",
      pii_detected: false,
      recipients: ["board@company.com"],
    },
    requestedBy: "agent://myorg/production/report-generator",
    steps: [
      { name: "finance", reviewers: ["controller@company.com"] },
      { name: "cfo", reviewers: ["cfo@company.com"], escalation: [["cfo-deputy@company.com"]] },
    ],
    timeout: { after: "8h", action: "reject" },
  });
  await approvals.decide(approval.id, {
    reviewer: "controller@company.com",
    outcome: "approve",
    comment: "Reconciled with the ledger",
    via: "slack",
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const port = (server.address() as AddressInfo).port;
  const token = await tokenFor(pool, schema, secret, approval.id, "cfo@company.com");
  const browser = await launchChromium();
  for (const scheme of ["light", "dark"] as const) {
    const context = await browser.newContext({
      viewport: { width: 360, height: 740 },
      deviceScaleFactor: 2,
      colorScheme: scheme,
    });
    const page = await context.newPage();
    await page.goto(`http://127.0.0.1:${port}/approvals/r/${token}?decision=approve`);
    const file = fileURLToPath(
      new URL(`../docs/approval-page${scheme === "dark" ? "-dark" : ""}.png`, import.meta.url),
    );
    await page.screenshot({ path: file, fullPage: true });
    console.log(`wrote ${file}`);
    await context.close();
  }
  await browser.close();
} finally {
  server.close();
  await approvals.stop();
  await pool.query(`drop schema if exists "${schema}" cascade; drop schema if exists "${schema}_worker" cascade`);
  await pool.end();
  await database.stop();
}
