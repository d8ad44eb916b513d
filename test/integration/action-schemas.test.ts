/**
 * A batch action's `inputSchema` (a tool's parameters): a reviewer's edit of that action's input must
 * satisfy it, and is refused naming the field otherwise, over the API and over HTTP alike.
 */
import { describe, expect, it } from "vitest";
import { z } from "zod";
import {
  type ActionRequest,
  type ApprovalError,
  type ApprovalRequest,
  ERROR_CODES,
  type ValidationError,
} from "../../src/index.ts";
import { tokenFor } from "../support/http-servers.ts";
import { supportBatch, TEST_SECRET, useTestBed } from "../support/test-bed.ts";

const bed = useTestBed("action_schemas");
const LEAD = "billing-lead@company.com";

const refusal = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (error: ApprovalError) => error,
  );

const refundSchema = {
  type: "object",
  properties: { orderId: { type: "string" }, amount: { type: "number", minimum: 1, maximum: 500 } },
  required: ["orderId", "amount"],
};
const actions: ActionRequest[] = [
  {
    id: "call_1",
    name: "refundOrder",
    input: { orderId: "A-1042", amount: 129 },
    editable: ["amount"],
    inputSchema: refundSchema,
  },
  {
    id: "call_2",
    name: "sendEmail",
    input: { to: "customer@x.com", body: "Your refund is on its way" },
    editable: ["to"],
    inputSchema: z.object({ to: z.email(), body: z.string() }),
  },
];
const batch = (extra: Partial<ApprovalRequest> = {}) =>
  bed.approvals.requestApproval(supportBatch(actions, LEAD, extra));

describe("an action's inputSchema", () => {
  it("refuses a reviewer's edit that breaks it, naming the action and field, and writes nothing", async () => {
    const req = await batch();
    expect(req.actions?.[0]?.inputSchema).toEqual(refundSchema);
    // A zod schema is stored as the JSON Schema it stands for.
    expect(req.actions?.[1]?.inputSchema).toMatchObject({
      type: "object",
      properties: { to: { type: "string", format: "email" } },
    });
    const decide = (call_1: Record<string, unknown>, call_2: Record<string, unknown>) =>
      refusal(bed.approvals.decide(req.id, { reviewer: LEAD, actions: { call_1, call_2 } as never }));

    const tooMuch = (await decide({ outcome: "approve", edits: { amount: 900 } }, { outcome: "approve" })) as
      | ValidationError
      | undefined;
    expect(tooMuch?.code).toBe(ERROR_CODES.VALIDATION);
    expect(tooMuch?.issues.map((issue) => issue.path)).toEqual(["actions.call_1.edits.amount"]);
    expect(tooMuch?.issues[0]?.message).toMatch(/<=500/);
    const both = (await decide(
      { outcome: "approve", edits: { amount: "lots" } },
      { outcome: "approve", edits: { to: "not an address" } },
    )) as ValidationError;
    expect(both.issues[0]).toEqual({
      path: "actions.call_1.edits.amount",
      message: "Invalid input: expected number, received string",
    });
    expect(new Set(both.issues.slice(1).map((issue) => issue.path))).toEqual(new Set(["actions.call_2.edits.to"]));
    expect(both.issues[1]?.message).toBe("Invalid email address");

    const untouched = await bed.approvals.get(req.id);
    expect(untouched).toMatchObject({ status: "pending", revision: 1 });
    expect(untouched.steps[0]?.reviewers[0]?.vote).toBeNull();

    const fitting = await bed.approvals.decide(req.id, {
      reviewer: LEAD,
      actions: {
        call_1: { outcome: "approve", edits: { amount: 100 } },
        call_2: { outcome: "approve", edits: { to: "billing@x.com" } },
      },
    });
    expect(fitting).toMatchObject({ status: "approved", revision: 2 });
    expect(fitting.actions?.map((action) => action.input)).toEqual([
      { orderId: "A-1042", amount: 100 },
      { to: "billing@x.com", body: "Your refund is on its way" },
    ]);
  });

  it("leaves the input as requested unchecked, so that a reviewer can be the one who fixes it", async () => {
    const req = await batch({ actions: [{ ...actions[0]!, input: { orderId: "A-1", amount: 9000 } }] });
    expect(req.status).toBe("pending");
    const fixed = await bed.approvals.decide(req.id, {
      reviewer: LEAD,
      actions: { call_1: { outcome: "approve", edits: { amount: 450 } } },
    });
    expect(fixed.actions?.[0]?.input).toEqual({ orderId: "A-1", amount: 450 });
  });

  it("is refused over HTTP as over the API: 400 naming the field, with the approval as it stands", async () => {
    const req = await batch();
    const token = await tokenFor(bed.pool, bed.schema, TEST_SECRET, req.id, LEAD);
    const response = await bed.approvals.fetch(
      new Request(`https://app.example.test/approvals/r/${token}`, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json" },
        body: JSON.stringify({
          actions: { call_1: { outcome: "approve", edits: { amount: 0 } }, call_2: { outcome: "approve" } },
        }),
      }),
    );
    expect(response.status).toBe(400);
    const body = (await response.json()) as { error: { issues: { path: string }[] }; approval: { status: string } };
    expect(body.error.issues.map((issue) => issue.path)).toEqual(["actions.call_1.edits.amount"]);
    expect(body.approval.status).toBe("pending");
    expect((await bed.approvals.get(req.id)).revision).toBe(1);
  });

  it("types the page's edit inputs for the action by its schema, and reads the form back as those types", async () => {
    const req = await batch({
      actions: [
        {
          id: "wire",
          name: "wireMoney",
          input: { currency: "EUR", amount: 10 },
          editable: ["currency", "amount"],
          inputSchema: {
            type: "object",
            properties: { currency: { enum: ["EUR", "USD"] }, amount: { type: "integer" } },
          },
        },
      ],
    });
    const url = `https://app.example.test/approvals/r/${await tokenFor(bed.pool, bed.schema, TEST_SECRET, req.id, LEAD)}`;
    const page = await (await bed.approvals.fetch(new Request(url))).text();
    expect(page).toMatch(
      /<select id="[^"]*" name="edit\.0\.currency"><option value="EUR" selected>EUR<\/option><option value="USD">USD<\/option><\/select>/,
    );
    const form = new URLSearchParams({
      decision: "actions",
      "action.0": "approve",
      "edit.0.currency": "USD",
      "edit.0.amount": "12",
    });
    const posted = await bed.approvals.fetch(
      new Request(url, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: form,
      }),
    );
    expect(posted.status).toBe(200);
    expect((await bed.approvals.get(req.id)).actions?.[0]?.input).toEqual({ currency: "USD", amount: 12 });
  });

  it("refuses at request time a schema that cannot be stored or checked, naming it", async () => {
    const attempt = async (inputSchema: unknown) =>
      ((await refusal(batch({ actions: [{ ...actions[0]!, inputSchema: inputSchema as never }] }))) as ValidationError)
        .issues;
    expect(await attempt("a string")).toEqual([
      { path: "actions.0.inputSchema", message: "must be a zod schema or a JSON Schema object" },
    ]);
    expect((await attempt({ type: "object", description: "a\u0000b" }))[0]?.path).toBe(
      "actions.0.inputSchema.description",
    );
    expect(await attempt({ type: "object", description: "x".repeat(300 * 1024) })).toEqual([
      { path: "actions.0.inputSchema", message: `must be at most ${256 * 1024} bytes as JSON` },
    ]);
    // A schema that refers to itself without end, and a pattern that is not a regular expression.
    for (const broken of [{ $ref: "#" }, { type: "object", properties: { to: { type: "string", pattern: "(" } } }]) {
      const issues = await attempt(broken);
      expect(issues[0]?.path).toBe("actions.0.inputSchema");
      expect(issues[0]?.message).toMatch(/^is not a JSON Schema countersign can check/);
    }
    const transformed = await attempt(z.object({ amount: z.number() }).transform((value) => value.amount));
    expect(transformed[0]?.path).toBe("actions.0.inputSchema");
    expect(transformed[0]?.message).toMatch(/transform/);
    const { rows } = await bed.pool.query(`select count(*)::int as n from "${bed.schema}".approval`);
    const before = rows[0].n;
    await attempt({ type: "object", description: "a\u0000b" });
    const after = await bed.pool.query(`select count(*)::int as n from "${bed.schema}".approval`);
    expect(after.rows[0].n).toBe(before);
  });
});
