import nodemailer from "nodemailer";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { emailChannel, renderEmail } from "../../src/index.ts";
import { startSmtpSink, type SmtpSink } from "../support/smtp-sink.ts";
import { eventually, PUBLIC_URL, useTestBed } from "../support/test-bed.ts";

let smtp: SmtpSink;
beforeAll(async () => {
  smtp = await startSmtpSink();
  smtp.refuse.add("nobody@company.com");
});
afterAll(() => smtp.close());

const transport = () =>
  nodemailer.createTransport({ host: "127.0.0.1", port: smtp.port, secure: false, ignoreTLS: true });
const bed = useTestBed("email_channel", () => ({
  channels: [
    emailChannel({ transport: transport(), from: "Approvals <approvals@company.com>" }),
    emailChannel({
      name: "branded",
      transport: transport(),
      from: "ops@company.com",
      render: (n) => ({ ...renderEmail(n), subject: `[ACME] ${n.approval.title}` }),
      headers: { "List-Id": "ACME approvals <approvals.acme.example>" },
    }),
    emailChannel({
      name: "tagged",
      transport: transport(),
      from: "tagged@company.com",
      headers: (n) => ({ "X-Acme-Tag": `approval-${n.kind}` }),
    }),
  ],
  delivery: { maxAttempts: 3 },
}));
beforeAll(() => bed.approvals.start());

const received = (to: string, from = "approvals@company.com") =>
  smtp.messages.filter(
    (m) => m.to && !Array.isArray(m.to) && m.to.value[0]?.address === to && m.from?.value[0]?.address === from,
  );

describe("the e-mail channel", () => {
  it("sends multipart mail linking to the page, and threads reminders and the outcome under the first message", async () => {
    const approval = await bed.approvals.requestApproval({
      type: "report.review_approval.v1",
      title: "Q1 Financial Summary",
      payload: { report: "Q1 Financial Summary", revenue: "4,200,000 EUR" },
      requestedBy: "agent://myorg/report-generator",
      reviewers: ["cfo@company.com"],
      reminders: ["1s"],
    });
    const [first, reminder] = await eventually(
      () => received("cfo@company.com").length >= 2 && received("cfo@company.com"),
    );
    const deadline = new Intl.DateTimeFormat("en-GB", {
      dateStyle: "medium",
      timeStyle: "short",
      timeZone: "UTC",
    }).format(approval.deadline);
    expect(first?.subject).toBe(`Approval needed by ${deadline} UTC: Q1 Financial Summary`);
    expect(first?.messageId).toMatch(new RegExp(`^<countersign\\.${approval.id}\\.[0-9a-f]{16}@company\\.com>$`));
    expect(first?.text).toContain("agent://myorg/report-generator asks for your approval.");
    expect(first?.text).toContain("revenue: 4,200,000 EUR");
    expect(first?.html).toContain("Q1 Financial Summary");
    expect(first?.headers.get("x-countersign-approval")).toBe(approval.id);
    // Out-of-office replies must not answer (and loop with) every reminder.
    expect(first?.headers.get("auto-submitted")).toBe("auto-generated");
    expect(first?.headers.get("x-auto-response-suppress")).toBe("All");

    // Every link points at the page, and opening any of them decides nothing.
    const links = [...String(first?.html).matchAll(/href="([^"]+)"/g)].map((m) => m[1]!.replaceAll("&amp;", "&"));
    expect(links).toHaveLength(3);
    for (const link of links) {
      expect(link).toMatch(new RegExp(`^${PUBLIC_URL}/r/[A-Za-z0-9_-]{43}(\\?decision=(approve|reject))?$`));
      const response = await bed.approvals.fetch(new Request(link));
      expect(response.status).toBe(200);
    }
    expect((await bed.approvals.get(approval.id)).status).toBe("pending");

    expect(reminder?.subject).toBe(`Re: ${first?.subject}`);
    expect(reminder?.inReplyTo).toBe(first?.messageId);
    expect(reminder?.references).toEqual(first?.messageId);
    expect(reminder?.text).toContain("Reminder: this approval is still waiting for you.");

    await bed.approvals.decide(approval.id, {
      reviewer: "cfo@company.com",
      outcome: "reject",
      comment: "wrong quarter",
      via: "slack",
    });
    const outcome = await eventually(() => received("cfo@company.com")[2]);
    expect(outcome.subject).toBe(`Re: ${first?.subject} (rejected)`);
    expect(outcome.inReplyTo).toBe(first?.messageId);
    expect(outcome.text).toContain("It was rejected by cfo@company.com via slack");
    expect(outcome.text).toContain("Comment: wrong quarter");
  });

  it("lets the host replace the rendering and add headers, fixed or per notification", async () => {
    await bed.approvals.requestApproval({
      type: "t",
      title: "Branded",
      requestedBy: "a",
      reviewers: ["ops@company.com"],
      reminders: [],
    });
    const mail = await eventually(() => received("ops@company.com", "ops@company.com")[0]);
    expect(mail.subject).toBe("[ACME] Branded");
    expect(mail.headerLines.find((h) => h.key === "list-id")?.line).toMatch(
      /^List-Id: ACME approvals <approvals\.acme\.example>$/i,
    );
    expect(mail.headers.get("auto-submitted")).toBe("auto-generated");
    const tagged = await eventually(() => received("ops@company.com", "tagged@company.com")[0]);
    expect(tagged.headers.get("x-acme-tag")).toBe("approval-request");
    expect(tagged.headers.get("x-countersign-kind")).toBe("request");
  });

  it("refuses a header that is not one", () => {
    const make = (headers: Record<string, string>) => () =>
      emailChannel({ transport: transport(), from: "a@company.com", headers });
    expect(make({ "Bad Name": "x" })).toThrow(/Bad Name: must be a header name/);
    expect(make({ "X-Injected": "x\r\nBcc: victim@example.com" })).toThrow(/X-Injected: must not contain line breaks/);
  });

  it("clips long values on whole characters and says how many fields were left out", async () => {
    const payload: Record<string, string> = { summary: `${"a".repeat(998)}👍 and more` };
    for (let i = 1; i <= 30; i++) payload[`field_${String(i).padStart(2, "0")}`] = `value ${i}`;
    await bed.approvals.requestApproval({
      type: "t",
      title: "Wide",
      requestedBy: "a",
      reviewers: ["wide@company.com"],
      reminders: [],
    });
    await bed.approvals.requestApproval({
      type: "t",
      title: "Wider",
      payload,
      requestedBy: "a",
      reviewers: ["wider@company.com"],
      reminders: [],
    });
    const mail = await eventually(() => received("wider@company.com")[0]);
    expect(mail.text).toContain(`summary: ${"a".repeat(998)}…\n`);
    expect(mail.text).not.toContain("\uFFFD");
    expect(mail.text).toContain("field_24: value 24\n+6 more fields on the approval page.");
    expect(mail.text).not.toContain("field_25");
    expect(mail.html).toContain("+6 more fields on the approval page.");
    const narrow = await eventually(() => received("wide@company.com")[0]);
    expect(narrow.text).not.toContain("more field");
  });

  it("lists a batch's actions one per line, with what may be edited, in text and HTML", async () => {
    await bed.approvals.requestApproval({
      type: "agent.tool_calls.v1",
      title: "Support agent wants to run 2 tools",
      actions: [
        { id: "call_1", name: "refundOrder", input: { orderId: "A-1042", amount: 129 }, editable: ["amount"] },
        { id: "call_2", name: "sendEmail", input: { to: "customer@x.com", body: "<b>hi</b>" } },
      ],
      requestedBy: "agent://support",
      reviewers: ["batch-lead@company.com"],
      reminders: [],
    });
    const mail = await eventually(() => received("batch-lead@company.com")[0]);
    expect(mail.text).toContain(
      "1. refundOrder: orderId: A-1042; amount: 129 (editable: amount)\n2. sendEmail: to: customer@x.com; body: <b>hi</b>\n",
    );
    expect(mail.html).toContain("2. sendEmail</td>");
    expect(mail.html).toContain("body: &lt;b&gt;hi&lt;/b&gt;");
  });

  it("treats a mailbox the server refuses as undeliverable at once, and does not address non-e-mail reviewers", async () => {
    const approval = await bed.approvals.requestApproval({
      type: "t",
      title: "Refused",
      requestedBy: "a",
      reviewers: ["nobody@company.com", "slack:#finance"],
      reminders: [],
    });
    const failures = await eventually(async () => {
      const events = (await bed.approvals.events(approval.id)).filter((e) => e.type === "notify_failed");
      return events.length === 4 && events;
    });
    const byChannel = Object.fromEntries(failures.filter((e) => e.channel).map((e) => [e.channel, e.data]));
    expect(byChannel.email).toMatchObject({
      reviewer: "nobody@company.com",
      attempt: 1,
      final: true,
      error: expect.stringContaining("550"),
    });
    expect(failures.find((e) => e.channel === null)?.data).toMatchObject({
      reviewer: "slack:#finance",
      error: "no configured channel can address this reviewer",
    });
  });
});
