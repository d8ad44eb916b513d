/**
 * `npm run demo`: the whole idea in a minute, with nothing to set up. Starts a real PostgreSQL (embedded,
 * in a temp folder removed on exit; or DATABASE_URL's), the worker, the HTTP handler on a free port and a
 * local SMTP sink; then an agent writes the quarterly report, asks the CFO and pauses. Approve in the
 * browser or with the printed CLI command; the agent resumes and emails the board.
 *
 * `npm run demo -- --yes` plays the CFO: after the first reminder it approves through the real page.
 */
import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { styleText } from "node:util";
import { createApprovals, type Channel, type Notification } from "countersign";
import nodemailer from "nodemailer";
import { runReportAgent } from "../examples/report-agent/report-agent.ts";
import { startEmbeddedPostgres, type RunningPostgres } from "../test/support/embedded-postgres.ts";
import { startSmtpSink } from "../test/support/smtp-sink.ts";

const unattended = process.argv.includes("--yes");

/** Quotes a value for a POSIX shell when it needs it. */
const shellQuote = (value: string) => (/^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replaceAll("'", `'\\''`)}'`);
/**
 * The CLI of this clone, runnable from any directory: its built bin, run by the Node that runs this demo
 * (the one the repository pins). A bare `npx countersign` works only inside the clone, and elsewhere asks
 * the registry, which would run whatever package holds that name with your database URL.
 */
const CLI = [process.execPath, fileURLToPath(new URL("../dist/cli/main.js", import.meta.url))]
  .map(shellQuote)
  .join(" ");
const color = (style: Parameters<typeof styleText>[0], text: string) =>
  styleText(style, text, { stream: process.stdout });
const say = (text = "") => console.log(text);
const step = (icon: string, text: string) => say(`${icon}  ${text}`);

const cleanups: (() => Promise<unknown>)[] = [];
let stopping = false;
async function shutdown(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  }
  process.exit(code);
}
process.once("SIGINT", () => {
  say(`\n${color("yellow", "Stopping: worker, HTTP server, SMTP sink and database…")}`);
  void shutdown(130);
});
process.once("SIGTERM", () => void shutdown(143));

say(color("bold", "\ncountersign demo: an agent that must not act before a person says yes\n"));

let database: RunningPostgres;
if (process.env.DATABASE_URL) {
  database = { url: process.env.DATABASE_URL, stop: async () => {} };
  step("🐘", "Using the database in DATABASE_URL.");
} else {
  step("🐘", "Starting an embedded PostgreSQL…");
  database = await startEmbeddedPostgres();
  say(color("dim", `     data in ${database.folder}, removed on exit`));
  cleanups.push(() => database.stop());
}

const smtp = await startSmtpSink();
cleanups.push(() => smtp.close());

const schema = process.env.COUNTERSIGN_SCHEMA ?? "countersign_demo";
const server = createServer();
await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
cleanups.push(() => new Promise((resolve) => server.close(resolve)));
const publicUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/approvals`;

/** How the reviewer is reached in the demo: this terminal. A real app adds Slack, e-mail or a webhook. */
let firstLink: string | undefined;
let firstReminder: () => void = () => {};
const reminded = new Promise<void>((resolve) => (firstReminder = resolve));
const terminal: Channel = {
  name: "terminal",
  async send(n: Notification) {
    if (n.kind === "request") {
      firstLink = n.links.view;
      say();
      step("📨", `${color("bold", n.reviewer)} was asked to review "${n.approval.title}". As the CFO, either:`);
      say(`     • open ${color(["cyan", "underline"], n.links.view)} and press Approve, or`);
      say(
        `     • run  ${color("cyan", `${CLI} approve ${n.approval.id} --as ${n.reviewer} --database-url ${shellQuote(database.url)} --schema ${schema}`)}`,
      );
      say(color("dim", "     (opening the link decides nothing by itself: mail scanners open links too)"));
    } else if (n.kind === "reminder") {
      step("⏰", `Reminder sent to ${n.reviewer}: "${n.approval.title}" is still waiting.`);
      firstReminder();
    } else if (n.decision) {
      step("📣", `${n.reviewer} is told the outcome: ${n.decision.status}.`);
    }
  },
};

const approvals = createApprovals({
  connectionString: database.url,
  schema,
  publicUrl,
  secret: randomBytes(32).toString("hex"),
  channels: [terminal],
  worker: { pollInterval: 200 },
});
cleanups.push(() => approvals.stop());
server.on("request", approvals.nodeHandler);
await approvals.migrate();
await approvals.start();
step("⚙️ ", `Worker running; approval pages served under ${publicUrl}`);

const board = nodemailer.createTransport({ host: "127.0.0.1", port: smtp.port, secure: false, ignoreTLS: true });

if (unattended) {
  // Play the CFO: after the first reminder, open the page and press Approve, as a person would.
  void reminded.then(async () => {
    if (!firstLink) return;
    const page = await fetch(firstLink);
    step("🧑‍💼", `--yes: the CFO opens the page (HTTP ${page.status}) and presses Approve.`);
    const answer = await fetch(firstLink, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ decision: "approve", comment: "Figures reconciled; send it." }).toString(),
    });
    if (answer.status !== 200) step("⚠️ ", `The page answered HTTP ${answer.status}.`);
  });
}

say();
step("🤖", "Agent: generating the Q1 financial report…");
const decision = await runReportAgent(
  approvals,
  {
    paused: (approval) =>
      step(
        "⏸️ ",
        `Agent: asked for approval ${color("bold", approval.id)} and paused. A reminder follows in 5 seconds.`,
      ),
    emailTheBoard: async (report) => {
      await board.sendMail({
        from: "report-generator@company.com",
        to: "board@company.com",
        subject: `${report.report} (${report.period})`,
        text: `Dear board,\n\nQ1: revenue ${report.revenue}, costs ${report.costs}, net income ${report.net_income}.\n\nReviewed and approved by the CFO.\n`,
      });
    },
  },
  { reminders: ["5s", "30s"], idempotencyKey: `demo-${randomBytes(4).toString("hex")}` },
).catch(async (error: unknown) => {
  // Ctrl-C stops countersign under the waiting agent: let the shutdown finish rather than fail.
  if (stopping) await new Promise(() => {});
  throw error;
});

say();
step(
  decision.approved ? "✅" : "❌",
  `Agent resumed: ${decision.status}${decision.decidedBy ? ` by ${decision.decidedBy}` : ""} via ${decision.via}.`,
);
if (decision.approved) {
  const deadline = Date.now() + 5_000;
  while (smtp.messages.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  const mail = smtp.messages[0];
  if (mail) {
    step("📧", "Agent emailed the board. The local SMTP sink received:");
    say(
      color(
        "dim",
        `     From:    ${mail.from?.text}\n     To:      ${Array.isArray(mail.to) ? mail.to.map((t) => t.text).join(", ") : mail.to?.text}\n     Subject: ${mail.subject}`,
      ),
    );
    say(color("dim", (mail.text ?? "").trimEnd().replace(/^/gm, "     │ ")));
  }
} else {
  step("🛑", "Agent: not approved, so the board gets nothing.");
}
const trail = await approvals.events(decision.id);
say();
step("🧾", `Audit trail: ${trail.map((e) => e.type).join(" → ")}`);
say(color("dim", "\nDone. Stopping everything.\n"));
await shutdown(0);
