/**
 * Express (4 and 5) adapter. Mount it anywhere; it works before or after body parsers:
 *
 * ```ts
 * import { expressHandler } from "countersign/express";
 * app.use("/approvals", expressHandler(approvals));
 * ```
 *
 * When a parser already read the body, the handler uses `req.rawBody` if the host kept it (needed for
 * Slack's signature over the exact bytes), else re-encodes `req.body`.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { FetchHandler } from "./handler.ts";
import { respondTo, sendWebResponse } from "./node.ts";

/** The parts of an Express request this adapter reads; no dependency on express itself. */
export interface ExpressLikeRequest extends IncomingMessage {
  body?: unknown;
  rawBody?: Uint8Array | string;
}

export type ExpressLikeHandler = (
  req: ExpressLikeRequest,
  res: ServerResponse,
  next: (error?: unknown) => void,
) => void;

export function expressHandler(approvals: { fetch: FetchHandler }): ExpressLikeHandler {
  return (req, res) => {
    const body = alreadyReadBody(req);
    const options = body ? { body, reencoded: req.rawBody === undefined } : {};
    // Never `next(error)`: the host's error handler would answer 500 for a request we can answer ourselves.
    void respondTo(approvals.fetch, req, options)
      .then((response) => sendWebResponse(res, response))
      .catch(() => res.destroy());
  };
}

function alreadyReadBody(req: ExpressLikeRequest): Uint8Array | undefined {
  if (req.rawBody !== undefined) return Buffer.from(req.rawBody);
  if (!req.readableEnded) return undefined; // nobody has read the stream: the core reads it
  const type = (req.headers["content-type"] ?? "").split(";")[0]?.trim().toLowerCase();
  const value = req.body;
  if (value === undefined || value === null) return new Uint8Array();
  if (typeof value === "string") return Buffer.from(value);
  if (value instanceof Uint8Array) return value;
  if (type === "application/x-www-form-urlencoded") {
    return Buffer.from(new URLSearchParams(value as Record<string, string>).toString());
  }
  return Buffer.from(JSON.stringify(value));
}
