/**
 * Figure 6: timer lateness. Many reminders fall due in one window; the worker runs with the DEFAULT
 * options (`approvals.start()` with no worker options), and a channel records when `send` is called for
 * each reminder. Lateness = send time − due time, where due = the approval's `createdAt` (the database's
 * now()) + its reminder offset, and send times are converted to the database's clock. Baseline in the same
 * run: graphile-worker at its own defaults running trivial jobs due on the same schedule
 * (graphile-lateness.ts). A tuned run (`concurrency: 16, pollInterval: "100ms"`) is reported as well.
 *
 * The request notifications of the new approvals are taken off the queue first by an instance without
 * channels (its notify jobs find nothing to deliver), so that only reminders are timed.
 */
import pg from "pg";
import type { Approvals, Channel, Logger } from "../src/index.ts";
import { databaseClockOffset } from "./db-clock.ts";
import { atMost, type Figure, medianRun, type Section, under } from "./figure.ts";
import { graphileLateness } from "./graphile-lateness.ts";
import { type ExtraOptions, migratedSchema, openInstance, typicalRequest, withClient } from "./instance.ts";
import type { BenchMode } from "./mode.ts";
import { type LatencySummary, ms, sleep, summarize } from "./stats.ts";

const REVIEWER = "alice@example.com";
const TUNED = { concurrency: 16, pollInterval: "100ms" } as const;
/** Approvals created per transaction, and transactions in flight, while setting up. */
const BATCH = 250;
const CREATORS = 4;

interface Schedule {
  count: number;
  /** Due times, on the database's clock (ms since the epoch). */
  dueAt(index: number): number;
  windowMs: number;
}

interface TimerRun extends LatencySummary {
  /** Reminders that were never sent before giving up. */
  missing: number;
  /** Request notifications still queued when the drain gave up. */
  undrained: number;
  /** What the workers warned about, deduplicated. */
  problems: string[];
  /** How long before the first due time the measured worker started (negative: after). */
  headStartMs: number;
}

export async function benchTimerLateness(url: string, mode: BenchMode): Promise<Section> {
  const count = mode.pick(500, 10_000);
  // 333 due a second, the rate the issue measured at: the window is three times the count in milliseconds.
  const windowMs = count * 3;
  const runs: { countersign: TimerRun; baseline: LatencySummary; tuned: TimerRun }[] = [];
  for (let run = 0; run < mode.repeats; run++) {
    const baseline = summarize(
      await graphileLateness(url, { count, firstDueInMs: 2_000, spacingMs: windowMs / count, giveUpMs: 120_000 }),
    );
    const countersign = await countersignLateness(url, count, windowMs, {});
    const tuned = await countersignLateness(url, count, windowMs, { worker: TUNED });
    runs.push({ countersign, baseline, tuned });
  }
  return {
    title: "6. Timer lateness",
    figures: figuresOf(runs, count),
    details: [
      `${count.toLocaleString("en-US")} reminders (one reviewer each) due evenly over ${windowMs / 1000} s; lateness = \`send\` called − due, on the database's clock. Baseline: graphile-worker's defaults (concurrency 1, poll every 2 s) running ${count.toLocaleString("en-US")} trivial jobs due on the same schedule. countersign's lateness covers the reminder's timer job and every job after it up to the channel's \`send\`.`,
      "",
      "| run | countersign default p50 | p99 | max | baseline p50 | p99 | max | p99 ratio | tuned p50 | p99 | max |",
      "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
      ...runs.map(
        (r, i) =>
          `| ${i + 1} | ${ms(r.countersign.p50)} | ${ms(r.countersign.p99)} | ${ms(r.countersign.max)} | ${ms(r.baseline.p50)} | ${ms(r.baseline.p99)} | ${ms(r.baseline.max)} | ${(r.countersign.p99 / r.baseline.p99).toFixed(2)}× | ${ms(r.tuned.p50)} | ${ms(r.tuned.p99)} | ${ms(r.tuned.max)} |`,
      ),
      "",
      ...runs.flatMap((r, i) =>
        notes(r.countersign, `run ${i + 1}, default`).concat(notes(r.tuned, `run ${i + 1}, tuned`)),
      ),
    ],
  };
}

function notes(run: TimerRun, label: string): string[] {
  const lines = [`- ${label}: the worker started ${ms(run.headStartMs)} before the first reminder fell due.`];
  if (run.missing > 0) lines.push(`- ${label}: ${run.missing} reminders were not sent in time and are left out.`);
  if (run.headStartMs < 0) lines.push(`- ${label}: setup was slow: some reminders were due before the worker started.`);
  if (run.undrained > 0)
    lines.push(
      `- ${label}: ${run.undrained} request notifications were still queued when the measured worker started.`,
    );
  for (const problem of run.problems) lines.push(`- ${label}: a worker logged: ${problem}`);
  return lines;
}

function figuresOf(
  runs: { countersign: TimerRun; baseline: LatencySummary; tuned: TimerRun }[],
  count: number,
): Figure[] {
  const describe = (s: LatencySummary) => `p50 ${ms(s.p50)}, p99 ${ms(s.p99)}, max ${ms(s.max)}`;
  const defaults = medianRun(runs, (r) => r.countersign.p99 / r.baseline.p99);
  const tuned = medianRun(runs, (r) => r.tuned.p99);
  const n = count.toLocaleString("en-US");
  return [
    {
      figure: `timer lateness, ${n} reminders, default worker`,
      countersign: describe(defaults.run.countersign),
      baseline: `graphile-worker defaults, trivial jobs: ${describe(defaults.run.baseline)}`,
      ratio: defaults.ratio,
      ratios: defaults.ratios,
      target: atMost(1.5),
    },
    {
      figure: `timer lateness p99, ${n} reminders, concurrency 16, poll 100 ms`,
      countersign: describe(tuned.run.tuned),
      baseline: "—",
      value: tuned.ratio,
      target: under(250, "ms p99"),
    },
  ];
}

async function countersignLateness(
  url: string,
  count: number,
  windowMs: number,
  extra: ExtraOptions,
): Promise<TimerRun> {
  const { schema, approvals: creator, drop } = await migratedSchema(url, "timers");
  const clock = await databaseClockOffset(url);
  // Creating and draining take 1.2-2.5 ms an approval here (the full run of 19:47 overran 1.5 ms an
  // approval, losing every default run); the window opens once both are done, with room to spare.
  const firstDue = Date.now() + clock + 2_000 + count * 3;
  const schedule: Schedule = { count, windowMs, dueAt: (index) => firstDue + (index * windowMs) / count };
  const problems = problemLog();
  const drainer = openInstance(url, schema, { worker: { concurrency: 8 }, logger: problems.logger });
  const sent = new Map<string, number>();
  const channel: Channel = {
    name: "bench",
    async send(notification) {
      // The first call counts: a retried delivery is not a later reminder.
      if (notification.kind === "reminder" && !sent.has(notification.approval.id))
        sent.set(notification.approval.id, Date.now() + clock);
    },
  };
  const measured = openInstance(url, schema, { ...extra, channels: [channel], logger: problems.logger });
  try {
    await drainer.start();
    const due = await createScheduled(url, creator, schedule);
    const undrained = await drained(url, `${schema}_worker`, 60_000);
    await drainer.stop();
    const headStartMs = firstDue - (Date.now() + clock);
    await measured.start();
    const giveUpAt = firstDue + windowMs + 120_000;
    while (sent.size < count && Date.now() + clock < giveUpAt) await sleep(50);
    const lateness = [...sent].map(([id, at]) => at - (due.get(id) ?? at));
    return { ...summarize(lateness), missing: count - sent.size, headStartMs, undrained, problems: problems.lines() };
  } finally {
    await drainer.stop();
    await measured.stop();
    await drop();
  }
}

/**
 * Creates the approvals, each with one reminder at its due time: in transactions of {@link BATCH}, whose
 * now() (the approvals' createdAt) is read first so that each offset lands exactly on its due time.
 */
async function createScheduled(url: string, approvals: Approvals, schedule: Schedule): Promise<Map<string, number>> {
  const due = new Map<string, number>();
  let next = 0;
  const creator = async () => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      for (let start = next; start < schedule.count; start = next) {
        next += BATCH;
        await client.query("begin");
        const { rows } = await client.query<{ now: Date }>("select now()");
        const createdAt = rows[0]?.now.getTime() ?? 0;
        for (let index = start; index < Math.min(start + BATCH, schedule.count); index++) {
          const offset = Math.max(1, Math.ceil(schedule.dueAt(index) - createdAt));
          const request = { ...typicalRequest(index, [REVIEWER]), reminders: [offset] };
          const { id } = await approvals.requestApproval(request, { db: client });
          due.set(id, createdAt + offset);
        }
        await client.query("commit");
      }
    } finally {
      await client.end();
    }
  };
  await Promise.all(Array.from({ length: CREATORS }, creator));
  return due;
}

/**
 * Waits until no job is due (the request notifications have been taken off the queue), or gives up;
 * returns how many were left.
 */
async function drained(url: string, workerSchema: string, giveUpMs: number): Promise<number> {
  const giveUpAt = Date.now() + giveUpMs;
  return withClient(url, async (client) => {
    for (;;) {
      const { rows } = await client.query<{ n: number }>(
        `select count(*)::int as n from "${workerSchema}".jobs where run_at <= now()`,
      );
      const left = rows[0]?.n ?? 0;
      if (left === 0 || Date.now() > giveUpAt) return left;
      await sleep(100);
    }
  });
}

/** Collects what the workers warn about, deduplicated with counts: a stalled worker shows up in the report. */
function problemLog(): { logger: Logger; lines(): string[] } {
  const seen = new Map<string, number>();
  const note = (context: Record<string, unknown>, message: string) => {
    const meta = context.meta as { error?: unknown } | undefined;
    const cause = context.error ?? meta?.error;
    const text = `${message}${cause ? ` (${String(cause).slice(0, 200)})` : ""}`;
    seen.set(text, (seen.get(text) ?? 0) + 1);
  };
  const ignore = () => {};
  return {
    logger: { debug: ignore, info: ignore, warn: note, error: note },
    lines: () => [...seen].map(([text, times]) => `${text} (×${times})`),
  };
}
