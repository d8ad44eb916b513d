/** The page with editable fields: typed inputs, the revision it showed, and a stale decision refused with 409. */
import { describe, expect, it } from "vitest";
import { tokenFor } from "../support/http-servers.ts";
import { PUBLIC_URL, readJson, TEST_SECRET, useTestBed } from "../support/test-bed.ts";

const bed = useTestBed("edits_page");

const request = () =>
  bed.approvals.requestApproval({
    type: "payment.release.v1",
    title: "Wire $48,000 to ACME GmbH",
    payload: { amount: 48000, currency: "USD", recipient: "ACME GmbH", urgent: false, memo: "Q1 invoice" },
    requestedBy: "alice@co.com",
    editable: ["amount", "currency", "urgent", "memo"],
    payloadSchema: {
      type: "object",
      properties: {
        amount: { type: "number", exclusiveMinimum: 0, maximum: 50000 },
        currency: { type: "string", enum: ["USD", "EUR"] },
        urgent: { type: "boolean" },
        memo: { type: "string" },
      },
    },
    steps: [{ name: "pair", reviewers: ["a@co.com", "b@co.com"], quorum: 2 }],
    reminders: [],
  });

const link = async (id: string, reviewer: string) =>
  `${PUBLIC_URL}/r/${await tokenFor(bed.pool, bed.schema, TEST_SECRET, id, reviewer)}`;
const form = (url: string, fields: Record<string, string>) =>
  bed.approvals.fetch(
    new Request(url, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(fields).toString(),
    }),
  );

describe("the page with editable fields", () => {
  it("shows editable fields as typed inputs and the others as text, with the revision it shows", async () => {
    const req = await request();
    const page = await (await bed.approvals.fetch(new Request(await link(req.id, "a@co.com")))).text();
    expect(page).toContain('<input type="hidden" name="revision" value="1">');
    expect(page).toContain('name="edit.amount" type="number" step="any" value="48000"');
    expect(page).toMatch(
      /<select id="edit-currency" name="edit.currency"><option value="USD" selected>USD<\/option><option value="EUR">EUR<\/option><\/select>/,
    );
    expect(page).toMatch(
      /<select id="edit-urgent" name="edit.urgent"><option value="true">Yes<\/option><option value="false" selected>No<\/option>/,
    );
    expect(page).toContain('name="edit.memo" type="text" value="Q1 invoice"');
    expect(page).not.toContain('name="edit.recipient"');
    expect(page).toContain("<dt>recipient</dt><dd>ACME GmbH</dd>");
  });

  it("approves with the typed edits; a reviewer whose page is stale gets 409 and the new revision", async () => {
    const req = await request();
    const [a, b] = [await link(req.id, "a@co.com"), await link(req.id, "b@co.com")];
    // b opens the page first; then a approves with changes.
    const before = await (await bed.approvals.fetch(new Request(b))).text();
    expect(before).toContain('name="revision" value="1"');
    const done = await form(a, {
      decision: "approve",
      revision: "1",
      "edit.amount": "45000",
      "edit.currency": "EUR",
      "edit.urgent": "false",
      "edit.memo": "Q1 invoice",
    });
    expect(done.status).toBe(200);
    expect(await done.text()).toContain("You approved, with your changes, this request.");
    const edited = await bed.approvals.get(req.id);
    expect(edited.payload).toMatchObject({ amount: 45000, currency: "EUR", urgent: false });
    expect(edited.edits.map((e) => [e.field, e.to])).toEqual([
      ["amount", 45000],
      ["currency", "EUR"],
    ]);

    // b submits the page opened at revision 1.
    const stale = await form(b, { decision: "approve", revision: "1", "edit.amount": "48000" });
    expect(stale.status).toBe(409);
    const html = await stale.text();
    expect(html).toContain("Not recorded: Approval");
    expect(html).toContain("making revision 2");
    expect(html).toContain('name="revision" value="2"');
    expect(html).toContain('value="45000"');
    expect(html).toMatch(/amount: <del>48000<\/del> → <ins>45000<\/ins> \(a@co.com, revision 2\)/);

    const json = await bed.approvals.fetch(
      new Request(b, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ decision: "approve", revision: 1 }),
      }),
    );
    expect(json.status).toBe(409);
    const body = await readJson(json);
    expect(body.error.code).toBe("STALE_REVISION");
    expect(body.approval.revision).toBe(2);
    expect(
      (await bed.approvals.get(req.id)).steps[0]?.reviewers.find((r) => r.reviewer === "b@co.com")?.vote,
    ).toBeNull();

    // On the page as it now is, b's approval is recorded.
    const ok = await form(b, { decision: "approve", revision: "2" });
    expect(ok.status).toBe(200);
    expect((await bed.approvals.get(req.id)).status).toBe("approved");
  });

  it("refuses what does not fit a field with 400 naming it, and edits outside editable over JSON", async () => {
    const req = await request();
    const a = await link(req.id, "a@co.com");
    const bad = await bed.approvals.fetch(
      new Request(a, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
        body: new URLSearchParams({ decision: "approve", revision: "1", "edit.amount": "lots" }).toString(),
      }),
    );
    expect(bad.status).toBe(400);
    expect((await readJson(bad)).error.issues).toEqual([{ path: "edits.amount", message: "must be a number" }]);
    const outside = await bed.approvals.fetch(
      new Request(a, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ decision: "approve", edits: { recipient: "Mallory Ltd" } }),
      }),
    );
    expect(outside.status).toBe(400);
    expect((await readJson(outside)).error.issues[0].path).toBe("edits.recipient");
    // A reject from the form ignores its edit inputs.
    const rejected = await form(a, { decision: "reject", comment: "no", revision: "1", "edit.amount": "1" });
    expect(rejected.status).toBe(200);
    expect((await bed.approvals.get(req.id)).payload).toMatchObject({ amount: 48000 });
  });
});
