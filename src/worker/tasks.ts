/** The graphile-worker tasks countersign registers; each parses its payload with the job contract and hands over to the engine. */
import type { Task, TaskList } from "graphile-worker";
import type { EngineContext } from "../core/context.ts";
import { askDelegates, deliver, fanOut } from "../core/delivery.ts";
import { fireTimer } from "../core/engine.ts";
import { type RegisteredHandler, runResume } from "../core/resume.ts";
import { deliverTask, PAYLOADS, resumeTask, TASKS } from "../scheduler/jobs.ts";

/** A timer's run, as a span linked to the trace that requested its approval. */
function timer(ctx: EngineContext, name: string, approvalId: string, run: () => Promise<void>): Promise<void> {
  return ctx.telemetry.span(
    "countersign.timer",
    { "countersign.timer": name, "countersign.approval.id": approvalId },
    approvalId,
    run,
  );
}

export function createTaskList(ctx: EngineContext, handlers: RegisteredHandler[]): TaskList {
  return {
    [TASKS.notify]: (payload) => fanOut(ctx, payload),
    [TASKS.delegates]: (payload) => askDelegates(ctx, payload),
    // Only the channels this worker has: others' deliveries stay queued for the workers that have them.
    ...Object.fromEntries(
      ctx.options.channels.map(
        (channel) =>
          [deliverTask(channel.name), (payload, helpers) => deliver(ctx, channel, payload, helpers.job)] satisfies [
            string,
            Task,
          ],
      ),
    ),
    [TASKS.reminder]: (payload) => {
      const { approvalId, step, reminder } = PAYLOADS.reminder.parse(payload);
      return timer(ctx, "reminder", approvalId, () => fireTimer(ctx, approvalId, { type: "reminder", step, reminder }));
    },
    [TASKS.escalation]: (payload) => {
      const { approvalId, step, level } = PAYLOADS.escalation.parse(payload);
      return timer(ctx, "escalation", approvalId, () =>
        fireTimer(ctx, approvalId, { type: "escalation", step, level }),
      );
    },
    [TASKS.timeout]: (payload) => {
      const { approvalId } = PAYLOADS.timeout.parse(payload);
      return timer(ctx, "timeout", approvalId, () => fireTimer(ctx, approvalId, { type: "deadline" }));
    },
    [TASKS.warning]: (payload) => {
      const { approvalId } = PAYLOADS.warning.parse(payload);
      return timer(ctx, "warning", approvalId, () => fireTimer(ctx, approvalId, { type: "warning" }));
    },
    // Only this process's handlers: other handlers' jobs wait for the workers that registered them.
    ...Object.fromEntries(
      handlers.map(
        (handler) =>
          [resumeTask(handler.name), (payload, helpers) => runResume(ctx, handler, payload, helpers.job)] satisfies [
            string,
            Task,
          ],
      ),
    ),
  };
}
