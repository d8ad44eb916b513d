/** list(): filters, newest first, and cursors that page through everything exactly once. */
import { describe, expect, it } from "vitest";
import type { Approval, ApprovalRequest } from "../../src/index.ts";
import { useTestBed } from "../support/test-bed.ts";

const bed = useTestBed("list");

const ask = (overrides: Partial<ApprovalRequest> = {}) =>
  bed.approvals.requestApproval({
    type: "list.a.v1",
    title: "Listed",
    requestedBy: "agent://lister",
    reviewers: ["ann@x.com"],
    reminders: [],
    ...overrides,
  } as ApprovalRequest);

async function everything(query: Parameters<typeof bed.approvals.list>[0]): Promise<Approval[]> {
  const items: Approval[] = [];
  let cursor: string | undefined;
  do {
    const page = await bed.approvals.list({ ...query, ...(cursor ? { cursor } : {}) });
    items.push(...page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return items;
}

describe("list", () => {
  it("filters by status, type and reviewer, newest first, each approval once", async () => {
    const first = await ask({ reviewers: ["Bob@X.com"] });
    const second = await ask({
      type: "list.b.v1",
      reviewers: undefined,
      steps: [
        { name: "one", reviewers: ["bob@x.com"] },
        { name: "two", reviewers: ["bob@x.com", "cy@x.com"] },
      ],
    } as Partial<ApprovalRequest>);
    const third = await ask({ reviewers: ["cy@x.com"], escalation: [["bob@x.com"]] });
    await bed.approvals.decide(third.id, { reviewer: "cy@x.com", outcome: "reject", comment: "no" });

    const bobs = await bed.approvals.list({ reviewer: "BOB@x.com" });
    expect(bobs.items.map((a) => a.id)).toEqual([third.id, second.id, first.id]);
    expect((await bed.approvals.list({ reviewer: "bob@x.com", status: "pending" })).items.map((a) => a.id)).toEqual([
      second.id,
      first.id,
    ]);
    expect((await bed.approvals.list({ reviewer: "bob@x.com", type: "list.b.v1" })).items.map((a) => a.id)).toEqual([
      second.id,
    ]);
    expect((await bed.approvals.list({ type: "list.b.v1" })).items.map((a) => a.id)).toEqual([second.id]);
    const rejected = await bed.approvals.list({ status: "rejected" });
    expect(rejected.items.map((a) => a.id)).toContain(third.id);
    expect(rejected.items.every((a) => a.status === "rejected")).toBe(true);
  });

  it("pages with cursors through approvals created in one transaction (equal created_at) exactly once", async () => {
    // Created in one host transaction: all share now().
    const same: string[] = [];
    const tx = await bed.pool.connect();
    try {
      await tx.query("begin");
      for (let i = 0; i < 7; i++) {
        const approval = await bed.approvals.requestApproval(
          {
            type: "list.tx.v1",
            title: `Same ${i}`,
            requestedBy: "agent://lister",
            reviewers: ["dee@x.com"],
            reminders: [],
          },
          { db: tx },
        );
        same.push(approval.id);
      }
      await tx.query("commit");
    } finally {
      tx.release();
    }
    const stamps = new Set(
      (await Promise.all(same.map((id) => bed.approvals.get(id)))).map((a) => a.createdAt.getTime()),
    );
    expect(stamps.size).toBe(1);
    for (const query of [
      { type: "list.tx.v1", limit: 2 },
      { reviewer: "dee@x.com", limit: 3 },
      { reviewer: "dee@x.com", status: "pending" as const, limit: 1 },
    ]) {
      const ids = (await everything(query)).map((a) => a.id);
      expect(ids, JSON.stringify(query)).toHaveLength(7);
      expect(new Set(ids), JSON.stringify(query)).toEqual(new Set(same));
    }
  });
});
