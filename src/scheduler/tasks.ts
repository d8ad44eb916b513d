/** The graphile-worker tasks countersign registers; each is a thin shell around the engine. */
import type { Task, TaskList } from "graphile-worker";
import { z } from "zod";
import { deliver, fanOut } from "../core/delivery.ts";
import { fireEscalation, fireReminder, fireTimeout, type EngineContext } from "../core/engine.ts";
import { deliverTask, TASKS } from "./enqueue.ts";

const timeoutPayload = z.object({ approvalId: z.string() });
const reminderPayload = z.object({ approvalId: z.string(), step: z.int(), reminder: z.int() });
const escalationPayload = z.object({ approvalId: z.string(), step: z.int(), level: z.int() });

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
    [TASKS.remind]: (payload) => {
      const { approvalId, step, reminder } = reminderPayload.parse(payload);
      return fireReminder(ctx, approvalId, step, reminder);
    },
    [TASKS.escalate]: (payload) => {
      const { approvalId, step, level } = escalationPayload.parse(payload);
      return fireEscalation(ctx, approvalId, step, level);
    },
    [TASKS.timeout]: (payload) => fireTimeout(ctx, timeoutPayload.parse(payload).approvalId),
  };
}
