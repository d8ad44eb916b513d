/** The graphile-worker tasks countersign registers; each parses its payload with the job contract and hands over to the engine. */
import type { Task, TaskList } from "graphile-worker";
import type { EngineContext } from "../core/context.ts";
import { deliver, fanOut } from "../core/delivery.ts";
import { fireTimer } from "../core/engine.ts";
import { deliverTask, PAYLOADS, TASKS } from "../scheduler/jobs.ts";

export function createTaskList(ctx: EngineContext): TaskList {
  return {
    [TASKS.notify]: (payload) => fanOut(ctx, payload),
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
      return fireTimer(ctx, approvalId, { type: "reminder", step, reminder });
    },
    [TASKS.escalation]: (payload) => {
      const { approvalId, step, level } = PAYLOADS.escalation.parse(payload);
      return fireTimer(ctx, approvalId, { type: "escalation", step, level });
    },
    [TASKS.timeout]: (payload) => fireTimer(ctx, PAYLOADS.timeout.parse(payload).approvalId, { type: "deadline" }),
  };
}
