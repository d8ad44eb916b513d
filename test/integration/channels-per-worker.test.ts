import { describe, expect, it } from "vitest";
import type { Channel, Logger, Notification } from "../../src/index.ts";
import { eventually, recordingChannel, sleep, useTestBed } from "../support/test-bed.ts";

const bed = useTestBed("channels_per_worker");

function capturingLogger() {
  const info: { message: string; context: Record<string, unknown> }[] = [];
  const logger: Logger = {
    debug() {},
    info: (context, message) => info.push({ context, message }),
    warn() {},
    error() {},
  };
  return { logger, info };
}

/** A channel whose first attempt fails, so its delivery job waits in the queue for its retry. */
function failingOnce(name: string): Channel & { sent: Notification[] } {
  const channel = recordingChannel(name);
  let failed = false;
  return {
    ...channel,
    async send(notification) {
      if (!failed) {
        failed = true;
        throw new Error("first attempt fails");
      }
      return channel.send(notification);
    },
  };
}

describe("workers with different channels on one schema", () => {
  it("a worker leaves a delivery through a channel it lacks to a worker that has it, and says at start which channels it serves", async () => {
    // The first worker has both channels: it fans the request out, and its chat attempt fails once.
    const both = bed.create({ channels: [failingOnce("chat"), recordingChannel("mail")] });
    const approval = await both.requestApproval({
      type: "t",
      title: "Split fleet",
      requestedBy: "a",
      reviewers: ["r@x.com"],
      reminders: [],
    });
    await both.start();
    await eventually(async () =>
      (await bed.approvals.events(approval.id)).some((e) => e.type === "notify_failed" && e.channel === "chat"),
    );
    await both.stop();

    // Only a mail worker runs while the chat retry comes due: it must not take (and fail) that job.
    const mailLog = capturingLogger();
    const mailOnly = bed.create({ channels: [recordingChannel("mail")], logger: mailLog.logger });
    await mailOnly.start();
    expect(mailLog.info).toContainEqual({
      message: "countersign: worker started; it delivers through mail",
      context: { schema: bed.schema, channels: ["mail"] },
    });
    const retryAt = await eventually(async () => {
      const { rows } = await bed.pool.query<{ run_at: Date }>(
        `select run_at from "${bed.workerSchema}".jobs where key like $1 and attempts = 1`,
        [`countersign:${approval.id}:deliver:%:chat:%`],
      );
      return rows[0]?.run_at;
    });
    await sleep(Math.max(0, retryAt.getTime() - Date.now()) + 1_000);
    const meanwhile = await bed.approvals.events(approval.id);
    expect(meanwhile.filter((e) => e.channel === "chat").map((e) => [e.type, e.data.attempt, e.data.final])).toEqual([
      ["notify_failed", 1, false],
    ]);

    // A worker with the channel comes along and delivers it.
    const chat = recordingChannel("chat");
    const chatOnly = bed.create({ channels: [chat] });
    await chatOnly.start();
    await eventually(() => chat.sent.some((n) => n.approval.id === approval.id && n.kind === "request"));
    const events = await eventually(async () => {
      const all = await bed.approvals.events(approval.id);
      return all.some((e) => e.type === "notified" && e.channel === "chat") && all;
    });
    expect(events.filter((e) => e.channel === "chat").map((e) => [e.type, e.data.attempt])).toEqual([
      ["notify_failed", 1],
      ["notified", 2],
    ]);
    await Promise.all([mailOnly.stop(), chatOnly.stop()]);
  });

  it("a worker without channels says that it delivers nothing", async () => {
    const { logger, info } = capturingLogger();
    const idle = bed.create({ logger });
    await idle.start();
    await idle.stop();
    expect(info.map((line) => line.message)).toContain(
      "countersign: worker started; it has no channels, so it delivers no notifications (other workers on this schema may)",
    );
  });
});
