import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { runScript } from "../support/child-process.ts";
import { freePort } from "../support/embedded-postgres.ts";
import { readJson, TEST_SECRET, useTestBed } from "../support/test-bed.ts";

const bed = useTestBed("ex_web");
const appSchema = `${bed.schema}_app`;
// The test bed drops its own schemas; the express example created its app's beside them.
afterAll(() => bed.pool.query(`drop schema if exists "${appSchema}" cascade`));
const example = (name: string) => fileURLToPath(new URL(`../../examples/${name}/main.ts`, import.meta.url));

async function approveThroughThePage(app: ReturnType<typeof runScript>) {
  const line = await app.next((l) => /review: +http/.test(String(l.text)));
  const link = /review: +(\S+)/.exec(String(line.text))?.[1] ?? "";
  expect((await fetch(link)).status).toBe(200);
  const answer = await fetch(link, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: "decision=approve&comment=fine",
  });
  expect(answer.status).toBe(200);
}

async function startApp(name: string) {
  const port = await freePort();
  const app = runScript(example(name), {
    DATABASE_URL: bed.url,
    COUNTERSIGN_SCHEMA: bed.schema,
    APP_SCHEMA: appSchema,
    COUNTERSIGN_SECRET: TEST_SECRET,
    PORT: String(port),
  });
  await app.next((l) => String(l.text).startsWith("Listening on"));
  const post = (path: string, body: unknown) =>
    fetch(`http://127.0.0.1:${port}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  const get = async (path: string) => readJson(await fetch(`http://127.0.0.1:${port}${path}`));
  return { app, post, get };
}

describe("examples/express and examples/fastify", () => {
  it("express: a refund and its approval are created together, approved on the mounted page, then issued", async () => {
    const { app, post, get } = await startApp("express");
    try {
      const created = await post("/refunds", { order: "A-1001", amount: 250 });
      expect(created.status).toBe(202);
      const { refund, approvalId } = await readJson(created);
      await approveThroughThePage(app);
      await app.next((l) => l.text === `Refund ${refund} issued after approval by support-lead@company.com`);
      const state = await get(`/refunds/${refund}`);
      expect(state.refund.issued_at).not.toBeNull();
      // The app's table is in the app's schema, not in countersign's.
      const { rows } = await bed.pool.query(
        "select table_schema from information_schema.tables where table_name = 'refund'",
      );
      expect(rows.map((row) => row.table_schema)).toContain(appSchema);
      expect(rows.map((row) => row.table_schema)).not.toContain(bed.schema);
      expect(state.approval).toMatchObject({
        status: "approved",
        decision: { id: approvalId, comment: "fine", via: "http" },
      });
    } finally {
      app.process.kill("SIGTERM");
    }
    expect((await app.exited).code).toBe(0);
  });

  it("fastify: a deploy waits for the on-call SRE, approved on the registered plugin's page", async () => {
    const { app, post, get } = await startApp("fastify");
    try {
      const created = await post("/deploys", { service: "billing", version: "2.4.0" });
      expect(created.status).toBe(202);
      const { approvalId } = await readJson(created);
      expect((await get(`/deploys/${approvalId}`)).status).toBe("pending");
      await approveThroughThePage(app);
      await app.next((l) => l.text === "Deploying billing 2.4.0 (approved by sre-oncall@company.com)");
      expect((await get(`/deploys/${approvalId}`)).status).toBe("approved");
    } finally {
      app.process.kill("SIGTERM");
    }
    expect((await app.exited).code).toBe(0);
  });
});
