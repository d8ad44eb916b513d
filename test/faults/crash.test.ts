import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { runScript } from "../support/child-process.ts";
import { eventually, TEST_SECRET, useTestBed } from "../support/test-bed.ts";

const bed = useTestBed("crash");
const script = (name: string) => fileURLToPath(new URL(`./processes/${name}.ts`, import.meta.url));

describe("a requesting process that is killed", () => {
  it("loses nothing: another process sees the reminder fire and waits to the decision", async () => {
    const env = { DATABASE_URL: bed.url, COUNTERSIGN_SCHEMA: bed.schema, COUNTERSIGN_SECRET: TEST_SECRET };
    const requester = runScript(script("requester"), env);
    const { id } = (await requester.next((line) => typeof line.id === "string")) as { id: string };
    requester.process.kill("SIGKILL");
    expect((await requester.exited).signal).toBe("SIGKILL");

    // Everything the dead process asked for is in the database: the approval and its timers.
    expect((await bed.approvals.get(id)).status).toBe("pending");
    const { rows } = await bed.pool.query<{ key: string }>(
      `select key from "${bed.workerSchema}".jobs where key like $1`,
      [`countersign:${id}:%`],
    );
    expect(rows.map((r) => r.key.split(":").slice(2).join(":")).sort()).toEqual([
      "notify:request:0",
      "reminder:0:0",
      "timeout",
    ]);

    const resumer = runScript(script("resumer"), { ...env, APPROVAL_ID: id });
    try {
      await resumer.next((line) => line.notification === "request");
      await resumer.next((line) => line.notification === "reminder");
      await eventually(async () => (await bed.approvals.events(id)).some((e) => e.type === "reminded"));

      await bed.approvals.decide(id, { reviewer: "sre@company.com", outcome: "approve", comment: "go", via: "cli" });
      const { decision } = (await resumer.next((line) => line.decision !== undefined)) as {
        decision: Record<string, unknown>;
      };
      expect(decision).toMatchObject({
        id,
        status: "approved",
        approved: true,
        decidedBy: "sre@company.com",
        via: "cli",
      });
      expect((await resumer.exited).code).toBe(0);
    } finally {
      resumer.process.kill("SIGKILL");
    }
  });
});
