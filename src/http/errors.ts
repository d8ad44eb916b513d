/** The one place an error becomes an HTTP response. */
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
  [ERROR_CODES.NOT_FOUND]: { status: 404, title: "Not found" },
  [ERROR_CODES.ALREADY_DECIDED]: { status: 409, title: "Already decided" },
  [ERROR_CODES.NOT_A_REVIEWER]: { status: 403, title: "Not your decision (yet)" },
  [ERROR_CODES.SELF_APPROVAL]: { status: 403, title: "Not your decision" },
  [ERROR_CODES.UNAVAILABLE]: { status: 503, title: "Please try again in a moment" },
};

export type ResponseFormat = "html" | "json";

/** The response for any error. Unexpected ones are logged and answered 500 without details. */
export function errorResponse(error: unknown, format: ResponseFormat, logger: Logger): Response {
  let status = 500;
  let title = "Something went wrong";
  let message = "The server could not handle this request. Please try again in a moment.";
  let code = "INTERNAL";
  let headers: Record<string, string> = {};
  let details: Record<string, unknown> = {};
  if (error instanceof HttpError) {
    ({ status, title, message, headers } = error);
    code = `HTTP_${status}`;
  } else if (error instanceof ApprovalError && STATUS_BY_CODE[error.code]) {
    ({ status, title } = STATUS_BY_CODE[error.code] ?? { status, title });
    message = error.message;
    code = error.code;
    if (error.code === ERROR_CODES.VALIDATION) details = { issues: error.data.issues };
  } else {
    logger.error(
      { error: error instanceof Error ? (error.stack ?? error.message) : String(error) },
      "countersign: HTTP request failed",
    );
  }
  if (format === "json") {
    return Response.json(
      { error: { code, title, message, ...details } },
      { status, headers: { ...headers, "cache-control": "no-store" } },
    );
  }
  return new Response(renderMessagePage(title, message), { status, headers: { ...PAGE_HEADERS, ...headers } });
}
