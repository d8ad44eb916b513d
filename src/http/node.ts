/** Node's (req, res) ⇄ the fetch-style core. Translation only; a request that cannot be translated is refused. */
import type { IncomingMessage, ServerResponse } from "node:http";
import { Readable } from "node:stream";
import { SILENT_LOGGER } from "../logger.ts";
import { markAlreadyRead, markReencoded } from "./body.ts";
import { errorResponse, HttpError } from "./errors.ts";
import type { FetchHandler } from "./handler.ts";

export type NodeHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

/** A placeholder origin: links are always built from `publicUrl`, never from the request's Host header. */
const ORIGIN = "http://countersign.invalid";

export interface TranslateOptions {
  /** The path as the core should see it (adapters that strip a mount prefix). @defaultValue `req.url` */
  path?: string;
  /** The body when something else already read the stream. */
  body?: Uint8Array | ReadableStream<Uint8Array>;
  /** The body was parsed by a body parser and encoded again: not the bytes the client signed. */
  reencoded?: boolean;
}

/**
 * Only the path and query of the request target are used. An origin-form target is appended to the
 * placeholder origin as is (so `//x` stays a path, not a host); an absolute-form one (sent to proxies)
 * gives up its path and query.
 */
function targetUrl(target: string): URL {
  if (target.startsWith("/")) return new URL(`${ORIGIN}${target}`);
  const absolute = new URL(target);
  return new URL(`${ORIGIN}${absolute.pathname}${absolute.search}`);
}

/** Builds a `Request` from a Node request; throws an {@link HttpError} for one the fetch API cannot represent. */
function toWebRequest(req: IncomingMessage, options: TranslateOptions = {}): Request {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    try {
      if (Array.isArray(value)) for (const item of value) headers.append(name, item);
      else if (value !== undefined) headers.set(name, value);
    } catch {
      // A header the fetch API refuses (a forbidden name or an invalid value) is of no use to the core.
    }
  }
  const method = req.method ?? "GET";
  let url: URL;
  try {
    url = targetUrl(options.path ?? req.url ?? "/");
  } catch {
    throw new HttpError(400, "Bad request", "The request's address cannot be read.");
  }
  const hasBody = method !== "GET" && method !== "HEAD";
  let request: Request;
  try {
    request = new Request(url, {
      method,
      headers,
      ...(hasBody ? { body: options.body ?? (Readable.toWeb(req) as ReadableStream<Uint8Array>), duplex: "half" } : {}),
    } as RequestInit);
  } catch {
    // The fetch API refuses CONNECT, TRACE and TRACK, and methods that are not tokens.
    throw new HttpError(405, "Method not allowed", "This address answers GET, HEAD and POST.", {
      allow: "GET, HEAD, POST",
    });
  }
  if (options.body instanceof Uint8Array) markAlreadyRead(request);
  if (options.reencoded) markReencoded(request);
  return request;
}

/** Runs `fetch` for a Node request; a request that cannot be translated gets its 4xx here. Never rejects. */
export async function respondTo(
  fetch: FetchHandler,
  req: IncomingMessage,
  options: TranslateOptions = {},
): Promise<Response> {
  try {
    return await fetch(toWebRequest(req, options));
  } catch (error) {
    const format = (req.headers.accept ?? "").includes("application/json") ? "json" : "html";
    const response = errorResponse(error, { format, logger: SILENT_LOGGER });
    // Nothing read the body: the connection cannot carry another request.
    response.headers.set("connection", "close");
    return response;
  }
}

export async function sendWebResponse(res: ServerResponse, response: Response): Promise<void> {
  res.statusCode = response.status;
  for (const [name, value] of response.headers) res.setHeader(name, value);
  const body = Buffer.from(await response.arrayBuffer());
  res.end(body);
}

export function toNodeHandler(fetch: FetchHandler): NodeHandler {
  return async (req, res) => {
    // A socket that went away mid-answer is the client's business, not an unhandled rejection in the host.
    await sendWebResponse(res, await respondTo(fetch, req)).catch(() => res.destroy());
  };
}
