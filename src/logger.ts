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
