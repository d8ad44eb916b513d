import { Logger as WorkerLogger, type LogLevel } from "graphile-worker";
import type { Logger } from "../logger.ts";

/** Routes graphile-worker's log lines to the host's logger (and nowhere else). */
export function toWorkerLogger(logger: Logger): WorkerLogger {
  return new WorkerLogger((scope) => (level: LogLevel, message: string, meta?: unknown) => {
    const context: Record<string, unknown> = { source: "graphile-worker", ...scope };
    if (meta !== undefined) context.meta = meta;
    const method = level === "warning" ? "warn" : level === "error" ? "error" : level === "info" ? "info" : "debug";
    logger[method](context, message);
  });
}
