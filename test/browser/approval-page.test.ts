/// <reference lib="dom" />
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chromiumAvailable, CHROMIUM_PATH, launchChromium } from "../support/browser.ts";
import { tokenFor } from "../support/http-servers.ts";
import { TEST_SECRET, useTestBed } from "../support/test-bed.ts";

const bed = useTestBed("browser");
let server: Server;
let base = "";
let browser: Browser;

if (!chromiumAvailable)
  console.warn(`skipping the browser test: no Chromium at ${CHROMIUM_PATH} (.ci/run installs it)`);

describe.skipIf(!chromiumAvailable)("the approval page in headless Chromium", () => {
  beforeAll(async () => {
    server = createServer(bed.approvals.nodeHandler);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/approvals`;
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
  });

  it("fits a 360-px phone, keeps its CSP quiet, and approves from the keyboard", async () => {
    const approval = await bed.approvals.requestApproval({
      type: "report.review_approval.v1",
      title: "Q1 Financial Summary",
      payload: {
        report: "Q1 Financial Summary",
        revenue: "4,200,000 EUR",
        pii_detected: false,
        recipients: ["board@company.com"],
      },
      requestedBy: "agent://myorg/production/report-generator",
      reviewers: ["cfo@company.com"],
      reminders: [],
    });
    const token = await tokenFor(bed.pool, bed.schema, TEST_SECRET, approval.id, "cfo@company.com");
    const context = await browser.newContext({ viewport: { width: 360, height: 740 }, javaScriptEnabled: false });
    const page = await context.newPage();
    const problems: string[] = [];
    page.on("console", (message) => message.type() === "error" && problems.push(message.text()));
    await page.goto(`${base}/r/${token}?decision=approve`);

    expect(await page.title()).toBe("Review: Q1 Financial Summary");
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
    expect(problems).toEqual([]); // a blocked style sheet would show up here
    expect((await bed.approvals.get(approval.id)).status).toBe("pending"); // opening and preselecting decided nothing

    await page.getByLabel("Comment (optional)").fill("Looks right to me");
    await page.keyboard.press("Tab"); // from the comment to the Approve button
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe("Approve");
    await page.keyboard.press("Enter");
    await page.getByText("Thank you. You approved this request.").waitFor();

    expect((await bed.approvals.get(approval.id)).decision).toMatchObject({
      status: "approved",
      decidedBy: "cfo@company.com",
      comment: "Looks right to me",
      via: "http",
    });
    await context.close();
  });

  it("decides a batch from the keyboard alone at 360 px: one Tab stop per action, arrows between Approve and Reject", async () => {
    const approval = await bed.approvals.requestApproval({
      type: "agent.tool_calls.v1",
      title: "Support agent wants to run 2 tools",
      actions: [
        { id: "call_1", name: "refundOrder", input: { orderId: "A-1042", amount: 129 }, editable: ["amount"] },
        { id: "call_2", name: "sendEmail", input: { to: "customer@x.com", body: "Your refund is on its way" } },
      ],
      requestedBy: "agent://support",
      reviewers: ["lead@company.com"],
      reminders: [],
    });
    const token = await tokenFor(bed.pool, bed.schema, TEST_SECRET, approval.id, "lead@company.com");
    const context = await browser.newContext({ viewport: { width: 360, height: 740 }, javaScriptEnabled: false });
    const page = await context.newPage();
    await page.goto(`${base}/r/${token}`);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
    const focused = () =>
      page.evaluate(() => {
        const el = document.activeElement as HTMLInputElement | null;
        return `${el?.name ?? ""}=${el?.type === "radio" ? el.value : ""}`;
      });

    // Action 1: Approve (the group's first radio), change the amount, no reason.
    await page.locator('input[name="action.0"][value="approve"]').focus();
    await page.keyboard.press("Space");
    await page.keyboard.press("Tab");
    expect(await focused()).toBe("edit.0.amount=");
    await page.keyboard.press("Control+A");
    await page.keyboard.type("100");
    await page.keyboard.press("Tab"); // the reason of action 1
    await page.keyboard.press("Tab"); // action 2's radio group: one stop
    expect(await focused()).toBe("action.1=approve");
    await page.keyboard.press("ArrowRight"); // arrows move within the group, choosing Reject
    expect(await focused()).toBe("action.1=reject");
    await page.keyboard.press("Tab");
    await page.keyboard.type("we do not e-mail customers about refunds");
    await page.keyboard.press("Tab"); // the comment on the whole request
    await page.keyboard.press("Tab");
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe("Submit decisions");
    await page.keyboard.press("Enter");
    await page.getByText("Thank you. You decided on each action of this request.").waitFor();

    const decision = await bed.approvals.waitForDecision(approval.id);
    expect(decision.actions?.map((a) => [a.outcome, a.input, a.comment])).toEqual([
      ["approve", { orderId: "A-1042", amount: 100 }, null],
      [
        "reject",
        { to: "customer@x.com", body: "Your refund is on its way" },
        "we do not e-mail customers about refunds",
      ],
    ]);
    await context.close();
  });

  it("follows the reader's dark mode", async () => {
    const approval = await bed.approvals.requestApproval({
      type: "t",
      title: "Dark",
      requestedBy: "a",
      reviewers: ["r@x.com"],
      reminders: [],
    });
    const token = await tokenFor(bed.pool, bed.schema, TEST_SECRET, approval.id, "r@x.com");
    const context = await browser.newContext({ colorScheme: "dark", viewport: { width: 360, height: 740 } });
    const page = await context.newPage();
    await page.goto(`${base}/r/${token}`);
    const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    expect(background).toBe("rgb(15, 18, 22)");
    await context.close();
  });
});
