/** The graphile-worker tasks countersign registers; each parses its payload with the job contract and hands over to the engine. */
import type { Task, TaskList } from "graphile-worker";
import type { EngineContext } from "../core/context.ts";
import { askDelegates, deliver, fanOut } from "../core/delivery.ts";
import { fireTimer } from "../core/engine.ts";
import { type RegisteredHandler, runResume } from "../core/resume.ts";
import { deliverTask, PAYLOADS, resumeTask, TASKS } from "../scheduler/jobs.ts";

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
      return fireTimer(ctx, approvalId, { type: "reminder", step, reminder });
    },
    [TASKS.escalation]: (payload) => {
      const { approvalId, step, level } = PAYLOADS.escalation.parse(payload);
      return fireTimer(ctx, approvalId, { type: "escalation", step, level });
    },
    [TASKS.timeout]: (payload) => fireTimer(ctx, PAYLOADS.timeout.parse(payload).approvalId, { type: "deadline" }),
    [TASKS.warning]: (payload) => fireTimer(ctx, PAYLOADS.warning.parse(payload).approvalId, { type: "warning" }),
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
