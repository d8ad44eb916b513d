/** Node's (req, res) ⇄ the fetch-style core. Translation only. */
import type { IncomingMessage, ServerResponse } from "node:http";
import { Readable } from "node:stream";
import type { FetchHandler } from "./handler.ts";

export type NodeHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

/**
 * Builds a `Request` from a Node request. The origin is a placeholder: links are always built from
 * `publicUrl`, never from the request's Host header.
 */
export function toWebRequest(
  req: IncomingMessage,
  options: { path?: string; body?: Uint8Array | ReadableStream<Uint8Array> } = {},
): Request {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (Array.isArray(value)) for (const item of value) headers.append(name, item);
    else if (value !== undefined) headers.set(name, value);
  }
  const method = req.method ?? "GET";
  const hasBody = method !== "GET" && method !== "HEAD";
  return new Request(new URL(options.path ?? req.url ?? "/", "http://countersign.invalid"), {
    method,
    headers,
    ...(hasBody ? { body: options.body ?? (Readable.toWeb(req) as ReadableStream<Uint8Array>), duplex: "half" } : {}),
  } as RequestInit);
}

export async function sendWebResponse(res: ServerResponse, response: Response): Promise<void> {
  res.statusCode = response.status;
  response.headers.forEach((value, name) => res.setHeader(name, value));
  const body = Buffer.from(await response.arrayBuffer());
  res.end(body);
}

export function toNodeHandler(fetch: FetchHandler): NodeHandler {
  return async (req, res) => {
    await sendWebResponse(res, await fetch(toWebRequest(req)));
  };
}
