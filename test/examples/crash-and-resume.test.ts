import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { runScript } from "../support/child-process.ts";
import { freePort } from "../support/embedded-postgres.ts";
import { sleep, TEST_SECRET, useTestBed } from "../support/test-bed.ts";

const bed = useTestBed("ex_crash");
const main = fileURLToPath(new URL("../../examples/crash-and-resume/main.ts", import.meta.url));

describe("examples/crash-and-resume", () => {
  it("a new process resumes the approval a killed one was waiting on, and acts on the decision", async () => {
    const env = {
      DATABASE_URL: bed.url,
      COUNTERSIGN_SCHEMA: bed.schema,
      COUNTERSIGN_SECRET: TEST_SECRET,
      TASK: "payout-test",
      PORT: String(await freePort()),
    };
    const first = runScript(main, env);
    const asked = await first.next((l) => /^Approval [0-9a-f-]{36} requested/.test(String(l.text)));
    const id = /Approval (\S+)/.exec(String(asked.text))?.[1];
    const review = await first.next((l) => /review: +http/.test(String(l.text)));
    const link = /review: +(\S+)/.exec(String(review.text))?.[1] ?? "";
    first.process.kill("SIGKILL");
    expect((await first.exited).signal).toBe("SIGKILL");

    await sleep(1100); // so the next run can tell it is resuming
    const second = runScript(main, env);
    const resumed = await second.next((l) => String(l.text).startsWith("Resuming approval"));
    expect(resumed.text).toContain(`Resuming approval ${id}`);
    expect(resumed.text).toContain("status pending");
    // The link the killed process printed works again: every run serves the page at the same address.
    expect((await fetch(link)).status).toBe(200);
    const answer = await fetch(link, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "decision=approve",
    });
    expect(answer.status).toBe(200);
    await second.next(
      (l) => l.text === "Paid out payout-test: 42 payees, 18,250.00 EUR (approved by treasurer@company.com).",
    );
    expect((await second.exited).code).toBe(0);
    const { rows } = await bed.pool.query(
      `select count(*)::int as n from "${bed.schema}".approval where idempotency_key = 'payout:payout-test'`,
    );
    expect(rows[0].n).toBe(1);
  });
});
