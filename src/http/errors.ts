/**
 * The one place an error becomes an HTTP response, with one JSON shape for every route:
 * `{ error: { code, title, message, issues? }, approval? }` (and the same words on an HTML page).
 */
import type { Approval } from "../domain/types.ts";
import { ApprovalError, ERROR_CODES, type ErrorCode } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { PAGE_HEADERS, renderMessagePage } from "./page.ts";

/** An HTTP-level refusal (size, media type, method, route) with a message a person understands. */
export class HttpError extends Error {
  readonly status: number;
  readonly title: string;
  readonly headers: Record<string, string>;
  constructor(status: number, title: string, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.status = status;
    this.title = title;
    this.headers = headers;
  }
}

const STATUS_BY_CODE: Partial<Record<ErrorCode, { status: number; title: string }>> = {
  [ERROR_CODES.VALIDATION]: { status: 400, title: "Please check your input" },
  [ERROR_CODES.SIGNATURE_REFUSED]: { status: 401, title: "Signature refused" },
  [ERROR_CODES.NOT_FOUND]: { status: 404, title: "Not found" },
  [ERROR_CODES.ALREADY_DECIDED]: { status: 409, title: "Already decided" },
  [ERROR_CODES.STALE_REVISION]: { status: 409, title: "Changed since you opened it" },
  [ERROR_CODES.NOT_A_REVIEWER]: { status: 403, title: "Not your decision (yet)" },
  [ERROR_CODES.SELF_APPROVAL]: { status: 403, title: "Not your decision" },
  [ERROR_CODES.UNAVAILABLE]: { status: 503, title: "Please try again in a moment" },
};

export type ResponseFormat = "html" | "json";

/** The approval a refused decision concerns: JSON carries it, the page shows it with a notice. */
export interface ViewForError {
  approval: Approval;
  page(notice: string): string;
}

export interface ErrorResponseOptions {
  format: ResponseFormat;
  logger: Logger;
  view?: ViewForError;
}

/** The response for any error. Unexpected ones are logged and answered 500 without details. */
export function errorResponse(error: unknown, { format, logger, view }: ErrorResponseOptions): Response {
  const { status, title, message, code, headers, issues } = describe(error, logger);
  if (format === "json") {
    return Response.json(
      { error: { code, title, message, ...(issues ? { issues } : {}) }, ...(view ? { approval: view.approval } : {}) },
      { status, headers: { ...headers, "cache-control": "no-store" } },
    );
  }
  const body = view
    ? view.page(
        code === ERROR_CODES.NOT_A_REVIEWER ? "Not recorded: you cannot decide this step." : `Not recorded: ${message}`,
      )
    : renderMessagePage(title, message);
  return new Response(body, { status, headers: { ...PAGE_HEADERS, ...headers } });
}

function describe(error: unknown, logger: Logger) {
  if (error instanceof HttpError) {
    const { status, title, message, headers } = error;
    return { status, title, message, headers, code: `HTTP_${status}`, issues: undefined };
  }
  const known = error instanceof ApprovalError ? STATUS_BY_CODE[error.code] : undefined;
  if (error instanceof ApprovalError && known) {
    if (error.code === ERROR_CODES.UNAVAILABLE)
      logger.warn({ error: error.message }, "countersign: the database is unavailable");
    const issues = error.code === ERROR_CODES.VALIDATION ? error.data.issues : undefined;
    return { ...known, message: error.message, code: error.code, headers: {}, issues };
  }
  logger.error(
    { error: error instanceof Error ? (error.stack ?? error.message) : String(error) },
    "countersign: HTTP request failed",
  );
  return {
    status: 500,
    title: "Something went wrong",
    message: "The server could not handle this request. Please try again in a moment.",
    code: ERROR_CODES.INTERNAL,
    headers: {},
    issues: undefined,
  };
}
