import { describe, expect, it } from "vitest";
import { parseChange } from "../../src/store/changes.ts";

const id = "5d3c2a8e-9f1b-4c7d-8e6a-1b2c3d4e5f60";

describe("parseChange", () => {
  it("reads a final change's decision from its positional fields", () => {
    const payload = JSON.stringify({
      id,
      status: "approved",
      d: ["r@x.com", "http", null, 1764104400123, true, 2, "boss@x.com"],
    });
    expect(parseChange(payload)).toEqual({
      id,
      status: "approved",
      decision: {
        decidedBy: "r@x.com",
        via: "http",
        comment: null,
        decidedAt: new Date(1764104400123),
        approved: true,
        revision: 2,
        onBehalfOf: "boss@x.com",
      },
    });
  });

  it("keeps the change but not a decision it cannot read, so the waiter reads the row", () => {
    const older = { id, status: "approved", decision: { decidedBy: "r@x.com", decidedAt: "2026-11-25T10:00:00Z" } };
    for (const payload of [older, { id, status: "approved", d: ["r@x.com"] }, { id, status: "approved", d: null }]) {
      expect(parseChange(JSON.stringify(payload))).toEqual({ id, status: "approved" });
    }
  });

  it("ignores what is not a change of ours", () => {
    for (const payload of ["", "not json", "{}", JSON.stringify({ id, status: "done" }), JSON.stringify([id])]) {
      expect(parseChange(payload)).toBeUndefined();
    }
  });
});
