import { describe, expect, it } from "vitest";
import { ValidationError, type ApprovalRequest } from "../../src/index.ts";
import { useTestBed } from "../support/test-bed.ts";

const bed = useTestBed("validation");

const good: ApprovalRequest = { type: "t.v1", title: "Title", requestedBy: "agent://x", reviewers: ["a@x.com"] };

async function rowCounts() {
  const { rows } = await bed.pool.query(
    `select (select count(*) from "${bed.schema}".approval)::int as approvals,
            (select count(*) from "${bed.schema}".event)::int as events,
            (select count(*) from "${bed.workerSchema}".jobs)::int as jobs`,
  );
  return rows[0];
}

async function issues(input: unknown) {
  const before = await rowCounts();
  const error = await bed.approvals.requestApproval(input as ApprovalRequest).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(ValidationError);
  expect(await rowCounts()).toEqual(before); // nothing written
  return (error as ValidationError).issues;
}

describe("requestApproval validation", () => {
  it("names missing and empty fields", async () => {
    expect(await issues({ ...good, title: undefined })).toEqual([{ path: "title", message: "is required" }]);
    expect(await issues({ ...good, title: "   " })).toEqual([{ path: "title", message: "must not be empty" }]);
    expect(await issues({ ...good, reviewers: [] })).toEqual([
      { path: "reviewers", message: "must list at least one reviewer" },
    ]);
  });

  it("calls a field of the wrong type what it is, not missing", async () => {
    expect(await issues({ ...good, title: 42 as never })).toEqual([{ path: "title", message: "must be a string" }]);
    expect(await issues({ ...good, timeout: { after: "1h", action: undefined }, type: null as never })).toEqual([
      { path: "type", message: "must be a string" },
    ]);
    expect(await issues({ ...good, steps: [{ name: "s" }] as never, reviewers: undefined })).toEqual([
      { path: "steps.0.reviewers", message: "is required" },
    ]);
  });

  it("wants exactly one of reviewers and steps", async () => {
    expect(await issues({ ...good, reviewers: undefined })).toEqual([
      { path: "reviewers", message: "give either reviewers or steps (exactly one)" },
    ]);
    expect(await issues({ ...good, steps: [{ name: "a", reviewers: ["b@x.com"] }] })).toEqual([
      { path: "reviewers", message: "give either reviewers or steps (exactly one)" },
    ]);
  });

  it("explains a bad duration", async () => {
    expect(await issues({ ...good, timeout: { after: "8x" } })).toEqual([
      { path: "timeout.after", message: '"8x" is not a duration; use e.g. "30s", "5m", "8h", "2d" or milliseconds' },
    ]);
    expect(await issues({ ...good, reminders: [0] })).toEqual([
      { path: "reminders.0", message: "must be longer than zero" },
    ]);
    expect(await issues({ ...good, timeout: { after: true as never } })).toEqual([
      { path: "timeout.after", message: 'must be a duration: e.g. "30s", "5m", "8h", "2d" or milliseconds' },
    ]);
    expect(await issues({ ...good, timeout: { action: "explode" } })).toMatchObject([{ path: "timeout.action" }]);
  });

  it("checks that a step's quorum can be reached and that reviewers are not repeated", async () => {
    expect(
      await issues({ ...good, reviewers: undefined, steps: [{ name: "exec", reviewers: ["a@x.com"], quorum: 2 }] }),
    ).toEqual([{ path: "steps.0.quorum", message: "is 2 but the step names only 1 reviewer" }]);
    expect(await issues({ ...good, reviewers: ["a@x.com"], escalation: [["a@x.com"]] })).toEqual([
      { path: "reviewers", message: 'lists "a@x.com" twice in one step' },
    ]);
    expect(
      await issues({
        ...good,
        reviewers: undefined,
        steps: [
          { name: "s", reviewers: ["a@x.com"] },
          { name: "s", reviewers: ["b@x.com"] },
        ],
      }),
    ).toEqual([{ path: "steps.1.name", message: '"s" is used by two steps' }]);
  });

  it("refuses unknown fields, payloads that are not JSON, and oversized payloads", async () => {
    expect(await issues({ ...good, reviewer: "a@x.com" })).toEqual([
      { path: "", message: 'unknown option "reviewer"' },
    ]);
    expect(await issues({ ...good, payload: { when: () => 1 } })).toEqual([
      { path: "payload.when", message: "is a function; the payload must be plain JSON" },
    ]);
    expect(await issues({ ...good, payload: { at: [new Date(0)] } })).toEqual([
      { path: "payload.at.0", message: "is a Date; the payload must be plain JSON" },
    ]);
    expect(await issues({ ...good, payload: { blob: "x".repeat(300_000) } })).toEqual([
      { path: "payload", message: "must be at most 262144 bytes as JSON" },
    ]);
  });

  it("validates decide, cancel, list and ids with the same readable errors", async () => {
    const { id } = await bed.approvals.requestApproval(good);
    await expect(bed.approvals.decide(id, { reviewer: "a@x.com", outcome: "maybe" as "approve" })).rejects.toThrow(
      'outcome: must be "approve" or "reject"',
    );
    await expect(bed.approvals.cancel(id, { reason: "" })).rejects.toThrow("reason: must not be empty");
    await expect(bed.approvals.get("not-an-id")).rejects.toThrow("must be an approval id (a UUID)");
    await expect(bed.approvals.list({ limit: 0 })).rejects.toBeInstanceOf(ValidationError);
    await expect(bed.approvals.list({ cursor: "garbage" })).rejects.toThrow(
      "cursor: is not a cursor returned by list()",
    );
    expect((await bed.approvals.get(id)).status).toBe("pending");
  });
});
