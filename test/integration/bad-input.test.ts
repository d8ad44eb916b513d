/** Input that used to reach PostgreSQL (or blow the stack) gets a typed ValidationError, and nothing is written. */
import { describe, expect, it } from "vitest";
import {
  createApprovals,
  slackChannel,
  ValidationError,
  verifyWebhook,
  webhookChannel,
  type ApprovalRequest,
  type ApprovalsOptions,
} from "../../src/index.ts";
import { PUBLIC_URL, TEST_SECRET, useTestBed } from "../support/test-bed.ts";

const bed = useTestBed("bad_input");

const good: ApprovalRequest = {
  type: "t.v1",
  title: "Title",
  requestedBy: "agent://x",
  reviewers: ["a@x.com"],
  reminders: [],
};

async function rowCounts() {
  const { rows } = await bed.pool.query(
    `select (select count(*) from "${bed.schema}".approval)::int as approvals,
            (select count(*) from "${bed.schema}".event)::int as events,
            (select count(*) from "${bed.schema}".vote)::int as votes,
            (select count(*) from "${bed.workerSchema}".jobs)::int as jobs`,
  );
  return rows[0];
}

async function refused(call: () => Promise<unknown>) {
  const before = await rowCounts();
  const error = await call().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ValidationError);
  expect(await rowCounts()).toEqual(before);
  return (error as ValidationError).issues;
}

const cursor = (text: string) => Buffer.from(text).toString("base64url");

describe("input PostgreSQL would refuse", () => {
  it("refuses NUL characters in every text field, naming the field", async () => {
    expect(await refused(() => bed.approvals.requestApproval({ ...good, title: "a\u0000b" }))).toEqual([
      { path: "title", message: "must not contain NUL characters" },
    ]);
    expect(await refused(() => bed.approvals.requestApproval({ ...good, reviewers: ["a\u0000@x.com"] }))).toEqual([
      { path: "reviewers.0", message: "must not contain NUL characters" },
    ]);
    expect(await refused(() => bed.approvals.requestApproval({ ...good, idempotencyKey: "k\u0000" }))).toEqual([
      { path: "idempotencyKey", message: "must not contain NUL characters" },
    ]);
    expect(await refused(() => bed.approvals.requestApproval({ ...good, payload: { note: "x\u0000" } }))).toEqual([
      { path: "payload.note", message: "is a string that contains NUL characters; the payload must be plain JSON" },
    ]);
    const { id } = await bed.approvals.requestApproval(good);
    expect(
      await refused(() => bed.approvals.decide(id, { reviewer: "a@x.com", outcome: "approve", comment: "ok\u0000" })),
    ).toEqual([{ path: "comment", message: "must not contain NUL characters" }]);
    expect(await refused(() => bed.approvals.cancel(id, { reason: "no\u0000" }))).toEqual([
      { path: "reason", message: "must not contain NUL characters" },
    ]);
    expect(await refused(() => bed.approvals.cancel(id, { reason: "no", via: "cli\u0000" }))).toEqual([
      { path: "via", message: "must not contain NUL characters" },
    ]);
    expect(await refused(() => bed.approvals.extend(id, { by: "1h", via: "x".repeat(51) }))).toEqual([
      { path: "via", message: expect.stringContaining("50") },
    ]);
    expect(await refused(() => bed.approvals.list({ type: "t\u0000" }))).toEqual([
      { path: "type", message: "must not contain NUL characters" },
    ]);
    expect(await refused(() => bed.approvals.list({ reviewer: "a\u0000" }))).toEqual([
      { path: "reviewer", message: "must not contain NUL characters" },
    ]);
    expect((await bed.approvals.get(id)).status).toBe("pending");
  });

  it("refuses unpaired surrogates in text, the payload and the context", async () => {
    expect(await refused(() => bed.approvals.requestApproval({ ...good, title: "bad \uD800 title" }))).toEqual([
      { path: "title", message: "must not contain unpaired surrogates (malformed UTF-16)" },
    ]);
    const { id } = await bed.approvals.requestApproval(good);
    expect(
      await refused(() =>
        bed.approvals.decide(id, { reviewer: "a@x.com", outcome: "approve", context: { agent: "x\uDC00" } }),
      ),
    ).toEqual([
      {
        path: "context.agent",
        message: "is a string that contains unpaired surrogates (malformed UTF-16); the context must be plain JSON",
      },
    ]);
    expect(
      await refused(() =>
        bed.approvals.decide(id, { reviewer: "a@x.com", outcome: "approve", context: { "k\u0000": 1 } }),
      ),
    ).toEqual([
      { path: "context.k\u0000", message: "is a key that contains NUL characters; the context must be plain JSON" },
    ]);
  });

  it("refuses crafted list cursors that once overflowed bigint, timestamps or uuid", async () => {
    for (const crafted of [
      cursor("99999999999999999999.00000000-0000-0000-0000-000000000000"),
      cursor("9999999999999999999.00000000-0000-0000-0000-000000000000"),
      cursor("1700000000000000.------------------------------------"),
      cursor("1700000000000000.zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz"),
      "%%%",
    ]) {
      expect(await refused(() => bed.approvals.list({ cursor: crafted }))).toEqual([
        { path: "cursor", message: "is not a cursor returned by list()" },
      ]);
    }
  });

  it("refuses a payload nested deeper than 32 levels without exhausting the stack", async () => {
    let deep: unknown = "bottom";
    for (let i = 0; i < 5000; i++) deep = { d: deep };
    const issues = await refused(() =>
      bed.approvals.requestApproval({ ...good, payload: deep as ApprovalRequest["payload"] }),
    );
    expect(issues[0]?.message).toBe("is nested deeper than 32 levels; the payload must be plain JSON");
  });

  it("refuses 100,000 reviewers at once instead of failing in the database", async () => {
    const reviewers = Array.from({ length: 100_000 }, (_, i) => `r${i}@x.com`);
    const issues = await refused(() => bed.approvals.requestApproval({ ...good, reviewers }));
    expect(issues).toEqual([
      { path: "reviewers", message: "names 100000 reviewers over its levels; at most 100 per step" },
    ]);
  });
});

describe("options that could never work", () => {
  const base = (): ApprovalsOptions => ({ connectionString: bed.url, publicUrl: PUBLIC_URL, secret: TEST_SECRET });
  const optionIssues = (options: ApprovalsOptions) => {
    try {
      createApprovals(options);
    } catch (error) {
      expect(error).toBeInstanceOf(ValidationError);
      return (error as ValidationError).issues;
    }
    throw new Error("createApprovals accepted the options");
  };

  it("refuses schema names that are too long for the change channel, and system schemas", () => {
    expect(optionIssues({ ...base(), schema: "s".repeat(52) })).toEqual([
      { path: "schema", message: "must be at most 51 characters" },
    ]);
    expect(optionIssues({ ...base(), schema: "public" })[0]?.message).toContain("is reserved");
    expect(optionIssues({ ...base(), schema: "information_schema" })[0]?.message).toContain("is reserved");
    expect(optionIssues({ ...base(), schema: "pg_temp_x" })[0]?.message).toContain("is reserved");
    expect(optionIssues({ ...base(), workerSchema: "public" })[0]?.path).toBe("workerSchema");
  });

  it("refuses an app secret that is empty, short or malformed", () => {
    expect(optionIssues({ ...base(), secret: "" })[0]).toMatchObject({ path: "secret" });
    expect(optionIssues({ ...base(), secret: "short" })[0]).toMatchObject({
      path: "secret",
      message: "must be at least 32 characters",
    });
    expect(optionIssues({ ...base(), secret: ` ${TEST_SECRET}\n` })[0]?.message).toContain("whitespace");
    expect(optionIssues({ ...base(), secret: undefined as unknown as string })[0]).toMatchObject({
      path: "secret",
      message: "is required",
    });
  });

  it("refuses Slack signing secrets and webhook secrets that would let anyone sign", () => {
    for (const signingSecret of ["", "   ", "short", undefined]) {
      expect(
        () => slackChannel({ token: "xoxb-1", signingSecret: signingSecret as string }),
        String(signingSecret),
      ).toThrow(ValidationError);
    }
    // A missing bot token is refused where it is given, not at the first send as Slack's not_authed.
    expect(() => slackChannel({ token: undefined, signingSecret: "s".repeat(32) })).toThrow(/token: is required/);
    expect(() => slackChannel({ token: "", signingSecret: "s".repeat(32) })).toThrow(/token: must be the bot token/);
    const webhook = (secret: unknown) => () =>
      webhookChannel({ url: "https://hooks.example.com/x", secret: secret as string });
    for (const secret of [
      "",
      undefined,
      "garbage",
      "whsec_",
      "whsec_c2hvcnQ=",
      "whsec_!!!notbase64!!!",
      Buffer.alloc(8),
    ]) {
      expect(webhook(secret), String(secret)).toThrow(ValidationError);
    }
    expect(webhook(`whsec_${Buffer.alloc(24, 7).toString("base64")}`)).not.toThrow();
    expect(webhook(Buffer.alloc(32, 7))).not.toThrow();
    const headers = {
      "webhook-id": "msg_1",
      "webhook-timestamp": String(Math.floor(Date.now() / 1000)),
      "webhook-signature": "v1,AAAA",
    };
    for (const secret of ["", "garbage", undefined]) {
      expect(() => verifyWebhook({ secret: secret as string, headers, body: "{}" }), String(secret)).toThrow(
        ValidationError,
      );
    }
  });
});
