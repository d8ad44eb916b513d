/** One person is one vote: reviewer ids are normalised, votes are unique per person, and nobody approves their own request. */
import { describe, expect, it } from "vitest";
import { ERROR_CODES, type ApprovalError } from "../../src/index.ts";
import { recordingChannel, useTestBed } from "../support/test-bed.ts";

const channel = recordingChannel();
const bed = useTestBed("identity", { channels: [channel] });

const refusal = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (error: ApprovalError) => error,
  );

describe("identities", () => {
  it("counts one person once towards a quorum, however the id is spelled", async () => {
    const spellings = [
      "Alice@X.com",
      "alice@x.COM",
      " alice@x.com ",
      "alice\u200B@x.com",
      "ali\uFEFFce@x.com",
      "alice@x.com\u200D",
    ];
    for (const second of spellings) {
      const approval = await bed.approvals.requestApproval({
        type: "t.v1",
        title: "Two of three",
        requestedBy: "agent://x",
        steps: [{ name: "pair", reviewers: ["alice@x.com", "bob@x.com", "carol@x.com"], quorum: 2 }],
        reminders: [],
      });
      await bed.approvals.decide(approval.id, { reviewer: "alice@x.com", outcome: "approve" });
      const error = await refusal(bed.approvals.decide(approval.id, { reviewer: second, outcome: "approve" }));
      expect(error?.code, JSON.stringify(second)).toBe(ERROR_CODES.ALREADY_DECIDED);
      expect((await bed.approvals.get(approval.id)).status).toBe("pending");
    }
  });

  it("normalises reviewers on the request, so a step cannot list one person twice", async () => {
    const error = await refusal(
      bed.approvals.requestApproval({
        type: "t.v1",
        title: "Dup",
        requestedBy: "agent://x",
        steps: [{ name: "pair", reviewers: ["alice@x.com", "ALICE@x.com\u200B"], quorum: 2 }],
      }),
    );
    expect(error?.code).toBe(ERROR_CODES.VALIDATION);
    expect(error?.message).toContain('lists "alice@x.com" twice in one step');
    const approval = await bed.approvals.requestApproval({
      type: "t.v1",
      title: "Mixed case",
      requestedBy: "agent://x",
      reviewers: ["  Bob@Example.COM", "slack:U0ABC"],
      reminders: [],
    });
    expect(approval.steps[0]?.reviewers.map((r) => r.reviewer)).toEqual(["bob@example.com", "slack:U0ABC"]);
    // A +tag is another mailbox: it stays distinct.
    const tagged = await bed.approvals.requestApproval({
      type: "t.v1",
      title: "Tags",
      requestedBy: "agent://x",
      steps: [{ name: "pair", reviewers: ["bob@x.com", "bob+ops@x.com"], quorum: 2 }],
      reminders: [],
    });
    expect(tagged.steps[0]?.reviewers).toHaveLength(2);
  });

  it("a unique constraint, not only the code path, keeps one person to one vote per step", async () => {
    const approval = await bed.approvals.requestApproval({
      type: "t.v1",
      title: "Team",
      requestedBy: "agent://x",
      steps: [{ name: "team", reviewers: ["slack:#finance", "slack:#treasury"], quorum: 2 }],
      reminders: [],
    });
    await bed.approvals.decide(approval.id, {
      reviewer: "slack:#finance",
      voter: "alice@x.com",
      outcome: "approve",
      via: "slack",
    });
    const error = await refusal(
      bed.approvals.decide(approval.id, {
        reviewer: "slack:#treasury",
        voter: "Alice@x.com",
        outcome: "approve",
        via: "slack",
      }),
    );
    expect(error?.code).toBe(ERROR_CODES.ALREADY_DECIDED);
    await expect(
      bed.pool.query(
        `insert into "${bed.schema}".vote (approval_id, position, reviewer, voter, outcome, via, once_key) values ($1, 0, 'slack:#treasury', 'alice@x.com', 'approve', 'sql', 'sql-only')`,
        [approval.id],
      ),
    ).rejects.toThrow(/vote_one_per_person_idx/);
    await bed.approvals.decide(approval.id, {
      reviewer: "slack:#treasury",
      voter: "bob@x.com",
      outcome: "approve",
      via: "slack",
    });
    const decided = await bed.approvals.get(approval.id);
    expect(decided.status).toBe("approved");
    const votes = (await bed.approvals.events(approval.id)).filter((e) => e.type === "approved");
    expect(votes.map((e) => [e.actor, e.data.voter])).toEqual([
      ["slack:#finance", "alice@x.com"],
      ["slack:#treasury", "bob@x.com"],
    ]);
  });

  it("the requester can never approve their own request, under any spelling, and is never asked", async () => {
    const approval = await bed.approvals.requestApproval({
      type: "t.v1",
      title: "Pay myself",
      requestedBy: "Mallory@x.com",
      reviewers: ["mallory@x.com", "boss@x.com"],
      reminders: [],
    });
    for (const spelling of ["mallory@x.com", "MALLORY@x.com", "mallory@x.com\u200B"]) {
      const error = await refusal(bed.approvals.decide(approval.id, { reviewer: spelling, outcome: "approve" }));
      expect(error?.code, spelling).toBe(ERROR_CODES.SELF_APPROVAL);
    }
    // Nor through a team slot.
    const team = await bed.approvals.requestApproval({
      type: "t.v1",
      title: "Via the team",
      requestedBy: "mallory@x.com",
      reviewers: ["slack:#finance"],
      reminders: [],
    });
    const viaTeam = await refusal(
      bed.approvals.decide(team.id, { reviewer: "slack:#finance", voter: "Mallory@X.com", outcome: "approve" }),
    );
    expect(viaTeam?.code).toBe(ERROR_CODES.SELF_APPROVAL);

    await bed.approvals.start();
    await expect.poll(() => channel.sent.some((n) => n.approval.id === approval.id), { timeout: 10_000 }).toBe(true);
    await bed.approvals.decide(approval.id, { reviewer: "boss@x.com", outcome: "approve" });
    await expect
      .poll(() => channel.sent.filter((n) => n.approval.id === approval.id).map((n) => `${n.kind}:${n.reviewer}`), {
        timeout: 10_000,
      })
      .toEqual(["request:boss@x.com", "decided:boss@x.com"]);
    const { rows } = await bed.pool.query(`select reviewer from "${bed.schema}".token where approval_id = $1`, [
      approval.id,
    ]);
    expect(rows.map((r) => r.reviewer)).toEqual(["boss@x.com"]);
  });

  it("refuses a request whose quorum only the requester could complete", async () => {
    const error = await refusal(
      bed.approvals.requestApproval({ type: "t.v1", title: "Alone", requestedBy: "me@x.com", reviewers: ["Me@x.com"] }),
    );
    expect(error?.code).toBe(ERROR_CODES.VALIDATION);
    expect(error?.message).toContain("quorum: is 1 but the step names only 0 reviewers other than the requester");
  });
});
