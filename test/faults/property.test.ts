/**
 * Property-based attacks (fast-check) on the public API and on every HTTP route under every adapter:
 * whatever comes in, the answer is a value or a typed error (a 4xx over HTTP), never a 5xx, a raw database
 * error or a dropped connection, and a refused call leaves no row behind.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApprovalError, type ApprovalRequest } from "../../src/index.ts";
import { ADAPTERS, startServer, tokenFor, type RunningServer } from "../support/http-servers.ts";
import { rawRequest } from "../support/raw-http.ts";
import { TEST_SECRET, useTestBed } from "../support/test-bed.ts";

const bed = useTestBed("property", { http: { maxBodyBytes: 4096 } });

async function rowCounts() {
  const { rows } = await bed.pool.query(
    `select (select count(*) from "${bed.schema}".approval)::int as approvals,
            (select count(*) from "${bed.schema}".step)::int as steps,
            (select count(*) from "${bed.schema}".reviewer)::int as reviewers,
            (select count(*) from "${bed.schema}".token)::int as tokens,
            (select count(*) from "${bed.schema}".vote)::int as votes,
            (select count(*) from "${bed.schema}".event where type <> 'viewed')::int as events,
            (select count(*) from "${bed.workerSchema}".jobs)::int as jobs`,
  );
  return rows[0] as Record<string, number>;
}

/** Strings a hostile caller would try: control characters, NUL, lone surrogates, huge, look-alike ids. */
const nastyString = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.constantFrom(
    "",
    " ",
    "\u0000",
    "a\u0000b",
    "\uD800",
    "x\uDC00y",
    "alice@x.com\u200B",
    "ALICE@X.COM",
    "<script>",
    "%00",
    "'; drop table x; --",
  ),
  fc.string({ minLength: 300, maxLength: 3000 }),
);
const nastyValue: fc.Arbitrary<unknown> = fc.oneof(
  nastyString,
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  fc.array(nastyString, { maxLength: 4 }),
  fc.jsonValue({ maxDepth: 3 }),
  fc.object({ maxDepth: 2 }),
);
const reviewerList = fc.oneof(
  fc.array(fc.constantFrom("a@x.com", "b@x.com", "B@x.com", "slack:#team", "c@x.com\u200B"), {
    minLength: 1,
    maxLength: 4,
  }),
  fc.array(nastyString, { maxLength: 3 }),
  nastyValue,
);
const duration = fc.oneof(
  fc.constantFrom("1s", "5m", "8h", "0s", "-1s", "1y", "400d", "9999999999d"),
  fc.integer(),
  fc.double(),
  nastyString,
);

/**
 * A valid request with one or two fields replaced by something hostile: a wholly random input fails
 * validation at its first field and never gets near the database.
 */
const validRequest = (i: number) => ({
  type: "prop.v1",
  title: `A title ${i}`,
  requestedBy: "agent://prop",
  reviewers: ["a@x.com", "b@x.com"],
  payload: { amount: 1 },
  reminders: ["5m"],
  timeout: { after: "1h", action: "reject" },
});
const requestFields: Record<string, fc.Arbitrary<unknown>> = {
  type: nastyString,
  title: nastyString,
  requestedBy: fc.oneof(fc.constant("a@x.com"), fc.constant("A@X.COM\u200B"), nastyString),
  reviewers: reviewerList,
  steps: fc.oneof(
    fc.array(
      fc.record(
        { name: nastyString, reviewers: reviewerList, quorum: fc.oneof(fc.integer({ min: -2, max: 5 }), nastyValue) },
        { requiredKeys: [] },
      ),
      {
        maxLength: 3,
      },
    ),
    nastyValue,
  ),
  payload: nastyValue,
  reminders: fc.oneof(fc.array(duration, { maxLength: 3 }), nastyValue),
  escalateAfter: duration,
  timeout: fc.oneof(
    fc.record(
      { after: duration, action: fc.oneof(fc.constantFrom("approve", "reject", "cancel"), nastyString) },
      { requiredKeys: [] },
    ),
    nastyValue,
  ),
  idempotencyKey: nastyString,
  escalation: fc.array(reviewerList, { maxLength: 2 }),
  unknownOption: nastyValue,
};
/** One or two fields of `fields`, each with a hostile value. */
const overridesOf = (fields: Record<string, fc.Arbitrary<unknown>>) => {
  const one = fc.oneof(...Object.entries(fields).map(([name, value]) => value.map((v) => ({ [name]: v }))));
  return fc
    .array(one, { minLength: 1, maxLength: 2 })
    .map((parts) => Object.assign({}, ...parts) as Record<string, unknown>);
};
const requestOverrides = overridesOf(requestFields);
const requestInput = fc
  .tuple(fc.nat(), requestOverrides)
  .map(([i, overrides]) => ({ ...validRequest(i), ...overrides }));

/** Resolves, or rejects with one of countersign's typed errors; anything else fails the property. */
async function typedOnly<T>(
  call: () => Promise<T>,
): Promise<{ ok: true; value: T } | { ok: false; error: ApprovalError }> {
  try {
    return { ok: true, value: await call() };
  } catch (error) {
    if (!(error instanceof ApprovalError)) throw new Error(`not a typed error: ${String(error)}`, { cause: error });
    return { ok: false, error };
  }
}

describe("the public API under arbitrary input", () => {
  it("requestApproval: an approval or a typed error, and a refusal writes nothing", async () => {
    await fc.assert(
      fc.asyncProperty(requestInput, async (input) => {
        const before = await rowCounts();
        const result = await typedOnly(() => bed.approvals.requestApproval(input as unknown as ApprovalRequest));
        if (!result.ok) expect(await rowCounts()).toEqual(before);
        else expect(result.value.status).toBe("pending");
      }),
      { numRuns: 150 },
    );
  }, 120_000);

  it("decide, cancel, get, list and events: a value or a typed error, and a refusal writes nothing", async () => {
    const { id } = await bed.approvals.requestApproval({
      type: "prop.v1",
      title: "Target",
      requestedBy: "agent://prop",
      steps: [{ name: "two", reviewers: ["a@x.com", "b@x.com", "c@x.com"], quorum: 3 }],
      reminders: [],
    });
    const ids = fc.oneof(fc.constant(id), fc.uuid(), nastyString);
    const operation = fc.oneof(
      fc.record({
        kind: fc.constant("decide" as const),
        id: ids,
        input: overridesOf({
          reviewer: fc.oneof(fc.constantFrom("a@x.com", "B@X.com", "z@x.com"), nastyString),
          outcome: nastyString,
          comment: nastyValue,
          via: nastyString,
          context: fc.oneof(fc.dictionary(nastyString, nastyValue, { maxKeys: 3 }), nastyValue),
          voter: nastyValue,
        }).map((overrides) => ({ reviewer: "b@x.com", outcome: "approve", ...overrides })),
      }),
      fc.record({
        kind: fc.constant("cancel" as const),
        id: ids,
        input: fc.record({ reason: nastyString, by: nastyString }, { requiredKeys: ["reason"] }),
      }),
      fc.record({ kind: fc.constant("get" as const), id: ids }),
      fc.record({ kind: fc.constant("events" as const), id: ids }),
      fc.record({
        kind: fc.constant("list" as const),
        query: fc.record(
          {
            status: fc.oneof(fc.constant("pending"), nastyValue),
            reviewer: nastyString,
            type: nastyString,
            limit: fc.oneof(fc.integer({ min: -5, max: 600 }), nastyValue),
            cursor: fc.oneof(
              nastyString,
              fc.base64String(),
              fc
                .tuple(fc.bigInt({ min: 0n, max: 10n ** 21n }), fc.string({ minLength: 36, maxLength: 36 }))
                .map(([n, u]) => Buffer.from(`${n}.${u}`).toString("base64url")),
            ),
          },
          { requiredKeys: [] },
        ),
      }),
    );
    await fc.assert(
      fc.asyncProperty(operation, async (op) => {
        const before = await rowCounts();
        const result = await typedOnly<unknown>(() => {
          switch (op.kind) {
            case "decide":
              return bed.approvals.decide(op.id as string, op.input as never);
            case "cancel":
              return bed.approvals.cancel(op.id as string, op.input as never);
            case "get":
              return bed.approvals.get(op.id as string);
            case "events":
              return bed.approvals.events(op.id as string);
            case "list":
              return bed.approvals.list(op.query as never);
          }
        });
        if (!result.ok) expect(await rowCounts()).toEqual(before);
      }),
      { numRuns: 250 },
    );
  }, 120_000);
});

const METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "PROPFIND", "FOO"];
const CONTENT_TYPES = [
  "application/json",
  "application/x-www-form-urlencoded",
  "text/plain",
  "multipart/form-data; boundary=x",
  "",
  "application/json; charset=latin1",
];

describe.each(ADAPTERS)("every route through the %s adapter under arbitrary requests", (adapter) => {
  let server: RunningServer;
  let tokenPath: string;
  let approvalId: string;
  beforeAll(async () => {
    server = await startServer(adapter, bed.approvals);
    const approval = await bed.approvals.requestApproval({
      type: "prop.v1",
      title: "HTTP target",
      requestedBy: "agent://prop",
      steps: [{ name: "two", reviewers: ["a@x.com", "b@x.com"], quorum: 2 }],
      reminders: [],
    });
    approvalId = approval.id;
    tokenPath = `/approvals/r/${await tokenFor(bed.pool, bed.schema, TEST_SECRET, approval.id, "a@x.com")}`;
  });
  afterAll(() => server.close());

  it("answers every request below 500, on the same connection it came on, and a refused POST decides nothing", async () => {
    const path = fc.oneof(
      fc.constantFrom(
        () => tokenPath,
        () => "/approvals/healthz",
        () => "/approvals/slack/actions",
        () => "/approvals/",
        () => "/approvals/r/x",
      ),
      fc.string({ maxLength: 30 }).map((s) => () => `/approvals/${encodeURIComponent(s)}`),
      fc
        .constantFrom("//%zz", "/approvals/r/%ff", "/approvals/%E0%A4%A", `/approvals/r/${"A".repeat(43)}`)
        .map((p) => () => p),
    );
    const body = fc.oneof(
      fc.constant(""),
      fc.constantFrom(
        '{"decision":"approve"}',
        '{"decision":"reject","comment":"\\u0000"}',
        "decision=approve&comment=%00",
        "[]",
        "null",
        "{",
      ),
      fc.json({ maxDepth: 3 }),
      fc.string({ maxLength: 200 }),
      fc.string({ minLength: 4000, maxLength: 6000 }),
    );
    const request = fc.record({
      method: fc.constantFrom(...METHODS),
      path,
      type: fc.constantFrom(...CONTENT_TYPES),
      body,
      accept: fc.constantFrom("", "application/json", "text/html"),
    });
    await fc.assert(
      fc.asyncProperty(request, async ({ method, path: pathOf, type, body: text, accept }) => {
        const votesBefore = (
          await bed.pool.query(`select count(*)::int as n from "${bed.schema}".vote where approval_id = $1`, [
            approvalId,
          ])
        ).rows[0].n;
        const bytes = Buffer.from(text);
        const head = [
          `${method} ${pathOf()} HTTP/1.1`,
          "Host: 127.0.0.1",
          ...(type ? [`Content-Type: ${type}`] : []),
          ...(accept ? [`Accept: ${accept}`] : []),
          `Content-Length: ${bytes.length}`,
        ];
        const response = await rawRequest(
          Number(new URL(server.base).port),
          Buffer.concat([Buffer.from(`${head.join("\r\n")}\r\n\r\n`), bytes]),
        );
        expect(response.status, `${method} ${head[0]}`).toBeGreaterThanOrEqual(200);
        expect(response.status, `${method} ${head[0]}`).toBeLessThan(500);
        if (response.status >= 400) {
          const votesAfter = (
            await bed.pool.query(`select count(*)::int as n from "${bed.schema}".vote where approval_id = $1`, [
              approvalId,
            ])
          ).rows[0].n;
          expect(votesAfter).toBe(votesBefore);
        }
      }),
      { numRuns: 60 },
    );
  }, 120_000);
});
