import { type LogLevel, Logger as WorkerLogger } from "graphile-worker";

/**
 * The logger countersign and its worker write to: pino's shape (`logger.info({ context }, "message")`),
 * so a pino, bunyan or console-like logger can be passed as is. Without one, nothing is printed.
 */
export interface Logger {
  debug(context: Record<string, unknown>, message: string): void;
  info(context: Record<string, unknown>, message: string): void;
  warn(context: Record<string, unknown>, message: string): void;
  error(context: Record<string, unknown>, message: string): void;
}

const ignore = (): void => {};

export const SILENT_LOGGER: Logger = { debug: ignore, info: ignore, warn: ignore, error: ignore };

/** Routes graphile-worker's log lines to the host's logger (and nowhere else). */
export function toWorkerLogger(logger: Logger): WorkerLogger {
  return new WorkerLogger((scope) => (level: LogLevel, message: string, meta?: unknown) => {
    const context: Record<string, unknown> = { source: "graphile-worker", ...scope };
    if (meta !== undefined) context.meta = meta;
    const method = level === "warning" ? "warn" : level === "error" ? "error" : level === "info" ? "info" : "debug";
    logger[method](context, message);
  });
}
