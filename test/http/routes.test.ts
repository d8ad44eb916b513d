import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomBytes } from "node:crypto";
import { ADAPTERS, startServer, tokenFor, type RunningServer } from "../support/http-servers.ts";
import { PUBLIC_URL, readJson, TEST_SECRET, useTestBed } from "../support/test-bed.ts";

const bed = useTestBed("http_routes", { http: { maxBodyBytes: 4096 } });

const request = (overrides: Record<string, unknown> = {}) => ({
  type: "report.review_approval.v1",
  title: "Q1 <Financial> Summary",
  payload: { report: "Q1 Financial Summary", note: "<script>alert('x')</script>", figures: { revenue: 4200000 } },
  requestedBy: "agent://myorg/report-generator",
  reviewers: ["cfo@company.com", "deputy@company.com"],
  reminders: [],
  ...overrides,
});

const form = (fields: Record<string, string>) => ({
  method: "POST",
  headers: { "content-type": "application/x-www-form-urlencoded" },
  body: new URLSearchParams(fields).toString(),
});
const json = (value: unknown) => ({
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify(value),
});

async function eventTypes(id: string) {
  return (await bed.approvals.events(id)).map((e) => e.type);
}

describe.each(ADAPTERS)("HTTP routes through the %s adapter", (adapter) => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer(adapter, bed.approvals);
  });
  afterAll(() => server.close());

  async function link(reviewer = "cfo@company.com", overrides = {}) {
    const approval = await bed.approvals.requestApproval(request(overrides));
    const token = await tokenFor(bed.pool, bed.schema, TEST_SECRET, approval.id, reviewer);
    return { id: approval.id, url: `${server.base}/r/${token}`, token };
  }

  it("GET renders the page, escapes every value, sets the security headers and decides nothing", async () => {
    const { id, url } = await link();
    const response = await fetch(url, { headers: { "user-agent": "Mozilla/5.0 test" } });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/html; charset=utf-8");
    const csp = response.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("default-src 'none'");
    expect(csp).not.toContain("script-src");
    expect(csp).not.toContain("unsafe-inline");
    expect(response.headers.get("referrer-policy")).toBe("no-referrer");
    expect(response.headers.get("cache-control")).toBe("no-store");
    expect(response.headers.get("x-frame-options")).toBe("DENY");
    const page = await response.text();
    expect(page).toContain("Q1 &lt;Financial&gt; Summary");
    expect(page).toContain("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;");
    expect(page).not.toContain("<script");
    expect(page).toContain("agent://myorg/report-generator");
    expect(page).toContain("&quot;revenue&quot;: 4200000");
    expect(page).toMatch(/<button type="submit" name="decision" value="approve"/);
    expect(page).toMatch(/<button type="submit" name="decision" value="reject"/);
    expect((await bed.approvals.get(id)).status).toBe("pending");
    const events = await bed.approvals.events(id);
    expect(events.map((e) => e.type)).toEqual(["requested", "viewed"]);
    expect(events[1]).toMatchObject({
      actor: "cfo@company.com",
      channel: "http",
      data: { userAgent: "Mozilla/5.0 test" },
    });
  });

  it("a reload records nothing more and writes nothing: no row lock, no transaction id", async () => {
    const { id, url } = await link();
    const rowVersion = async () =>
      (
        await bed.pool.query<{ xmin: string; xmax: string }>(
          `select xmin::text, xmax::text from "${bed.schema}".approval where id = $1`,
          [id],
        )
      ).rows[0];
    expect((await fetch(url)).status).toBe(200);
    const afterFirstView = await rowVersion();
    for (let i = 0; i < 3; i++) expect((await fetch(url)).status).toBe(200);
    // The audit chain's trigger locks the approval for every event row it is offered; a reload that
    // offered one (even to be dropped by the conflict) would leave its transaction id in xmax.
    expect(await rowVersion()).toEqual(afterFirstView);
    expect(await eventTypes(id)).toEqual(["requested", "viewed"]);
  });

  it("HEAD answers the headers only and records nothing", async () => {
    const { id, url } = await link();
    const response = await fetch(url, { method: "HEAD" });
    expect(response.status).toBe(200);
    expect(response.headers.get("x-frame-options")).toBe("DENY");
    expect(await response.text()).toBe("");
    expect(await eventTypes(id)).toEqual(["requested"]);
  });

  it("?decision= only preselects a button; the approval stays pending", async () => {
    const { id, url } = await link();
    const page = await (await fetch(`${url}?decision=reject`)).text();
    expect(page).toMatch(/value="reject" class="reject chosen" autofocus/);
    expect(page).toContain("You chose <strong>Reject</strong>");
    expect((await bed.approvals.get(id)).status).toBe("pending");
  });

  it("POST of the form decides as the token's reviewer and answers a page", async () => {
    const { id, url } = await link();
    const response = await fetch(url, form({ decision: "approve", comment: "numbers check out" }));
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(await response.text()).toContain("Thank you. You approved this request.");
    expect((await bed.approvals.get(id)).decision).toMatchObject({
      status: "approved",
      decidedBy: "cfo@company.com",
      via: "http",
      comment: "numbers check out",
    });
  });

  it("POST of JSON decides and answers JSON", async () => {
    const { id, url } = await link("deputy@company.com");
    const response = await fetch(url, json({ decision: "reject", comment: "wrong quarter" }));
    expect(response.status).toBe(200);
    const body = await readJson(response);
    expect(body.approval).toMatchObject({
      id,
      status: "rejected",
      decision: { decidedBy: "deputy@company.com", comment: "wrong quarter" },
    });
    expect(JSON.stringify(body)).not.toMatch(/[A-Za-z0-9_-]{43}/); // no token anywhere
  });

  it("a decided approval answers 409 with the final state shown", async () => {
    const { url } = await link();
    await fetch(url, form({ decision: "reject" }));
    const response = await fetch(url, form({ decision: "approve" }));
    expect(response.status).toBe(409);
    const page = await response.text();
    expect(page).toContain("Not recorded: Approval");
    expect(page).toMatch(/<span class="status rejected">Rejected<\/span>\s*by cfo@company.com via http/);
    const jsonResponse = await fetch(url, json({ decision: "approve" }));
    expect(jsonResponse.status).toBe(409);
    expect((await readJson(jsonResponse)).error.code).toBe("ALREADY_DECIDED");
  });

  it("unknown, malformed and expired tokens all get the same 404", async () => {
    const { id, token } = await link();
    await bed.pool.query(
      `update "${bed.schema}".token set expires_at = now() - interval '1 second' where approval_id = $1`,
      [id],
    );
    const urls = [
      `${server.base}/r/${randomBytes(32).toString("base64url")}`,
      `${server.base}/r/not-a-token`,
      `${server.base}/r/${token}`,
    ];
    const answers = await Promise.all(
      urls.map(async (url) => {
        const response = await fetch(url);
        return [response.status, (await response.text()).replace(/<title>.*<\/title>/, "")];
      }),
    );
    expect(answers.map((a) => a[0])).toEqual([404, 404, 404]);
    expect(new Set(answers.map((a) => a[1])).size).toBe(1);
    expect(answers[0]?.[1]).toContain("This approval link is not valid or has expired.");
    expect((await fetch(`${server.base}/r/${token}`, form({ decision: "approve" }))).status).toBe(404);
    expect((await bed.approvals.get(id)).status).toBe("pending");
  });

  it("refuses a body over the limit with 413, other media types with 415, bad fields with 400", async () => {
    const { id, url } = await link();
    const big = await fetch(url, form({ decision: "approve", comment: "x".repeat(5000) }));
    expect(big.status).toBe(413);
    expect(await big.text()).toContain("larger than 4096 bytes");
    const text = await fetch(url, { method: "POST", headers: { "content-type": "text/plain" }, body: "approve" });
    expect(text.status).toBe(415);
    expect(await text.text()).toContain("application/x-www-form-urlencoded or application/json, not text/plain");
    const bad = await fetch(url, json({ decision: "maybe" }));
    expect(bad.status).toBe(400);
    expect((await readJson(bad)).error).toMatchObject({
      code: "VALIDATION",
      issues: [{ path: "decision", message: 'must be "approve" or "reject"' }],
    });
    const broken = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: "{nope" });
    expect(broken.status).toBe(400);
    expect((await bed.approvals.get(id)).status).toBe("pending");
  });

  it("never answers 500 or a stack trace for bad input", async () => {
    const { url } = await link();
    const attempts: [string, RequestInit][] = [
      [url, { method: "POST" }],
      [url, { method: "POST", headers: { "content-type": "application/json" }, body: "[]" }],
      [url, json({ decision: ["approve"] })],
      [url, json({ decision: "approve", comment: 42 })],
      [url, { method: "PUT", body: "x" }],
      [`${server.base}/r/%E0%A4%A`, {}],
      [`${server.base}/nowhere`, {}],
      [`${server.base}/r/`, {}],
    ];
    for (const [target, init] of attempts) {
      const response = await fetch(target, init);
      const body = await response.text();
      expect(response.status, `${init.method ?? "GET"} ${target}`).toBeGreaterThanOrEqual(400);
      expect(response.status, `${init.method ?? "GET"} ${target}`).toBeLessThan(500);
      expect(body).not.toMatch(/at .*\.ts:\d+/);
    }
  });

  it("builds nothing from the Host header and shows no other reviewer's token", async () => {
    const { url, id } = await link();
    const other = await tokenFor(bed.pool, bed.schema, TEST_SECRET, id, "deputy@company.com");
    const page = await (
      await fetch(url, { headers: { "x-forwarded-host": "evil.example", forwarded: "host=evil.example" } })
    ).text();
    expect(page).not.toContain("evil.example");
    expect(page).not.toContain(other);
    expect(page).toContain('<form method="post">'); // posts back to the same address
  });

  it("/healthz answers 200 when the database does", async () => {
    const response = await fetch(`${server.base}/healthz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: "ok" });
  });

  it("50 concurrent POSTs from two reviewers make exactly one decision, which reaches a waiter elsewhere", async () => {
    const approval = await bed.approvals.requestApproval(request());
    const urls = await Promise.all(
      ["cfo@company.com", "deputy@company.com"].map(
        async (r) => `${server.base}/r/${await tokenFor(bed.pool, bed.schema, TEST_SECRET, approval.id, r)}`,
      ),
    );
    const waiter = bed.create();
    const waiting = waiter.waitForDecision(approval.id);
    const statuses = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        fetch(urls[i % 2]!, json({ decision: i % 3 ? "approve" : "reject" })).then((r) => r.status),
      ),
    );
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(49);
    const decision = await waiting;
    expect(["cfo@company.com", "deputy@company.com"]).toContain(decision.decidedBy);
    expect((await bed.approvals.events(approval.id)).filter((e) => e.data.final === true)).toHaveLength(1);
    await waiter.stop();
  });
});

describe("the page once the approval is final", () => {
  it("says the approval closed before its deadline, not that the deadline was, when the deadline is still ahead", async () => {
    const approval = await bed.approvals.requestApproval(request({ timeout: { after: "8h" } }));
    const token = await tokenFor(bed.pool, bed.schema, TEST_SECRET, approval.id, "cfo@company.com");
    await bed.approvals.decide(approval.id, { reviewer: "deputy@company.com", outcome: "approve" });
    const page = await (await bed.approvals.fetch(new Request(`${PUBLIC_URL}/r/${token}`))).text();
    expect(page).toMatch(/<p class="meta">Closed before its deadline of <time datetime="[^"]+">[^<]+ UTC<\/time><\/p>/);
    expect(page).not.toContain("Deadline was");

    const lapsed = await bed.approvals.requestApproval(request({ timeout: { after: "1s" } }));
    const lapsedToken = await tokenFor(bed.pool, bed.schema, TEST_SECRET, lapsed.id, "cfo@company.com");
    expect((await bed.approvals.waitForDecision(lapsed.id)).status).toBe("timed_out");
    expect(await (await bed.approvals.fetch(new Request(`${PUBLIC_URL}/r/${lapsedToken}`))).text()).toContain(
      "Deadline was <time",
    );
  });
});
