/**
 * The MCP tools over Streamable HTTP, stateless: every POST gets a fresh server and transport, so any
 * process behind a load balancer can answer any request. `authorize` runs first, on every request.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { Readable } from "node:stream";
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import type { Approvals, FetchHandler, NodeHandler } from "../index.ts";
import { createMcpServer, type McpServerOptions } from "./tools.ts";

/** Options of {@link mcpHandler}. */
export interface McpHandlerOptions extends McpServerOptions {
  /**
   * Decides whether a request may use the tools (check a bearer token, a session cookie…). Required:
   * whoever reaches the tools can ask for approvals in your name. A request it refuses, or that makes it
   * throw, gets 401 and never reaches a tool.
   */
  authorize: (request: Request) => boolean | Promise<boolean>;
  /** The largest request body read, in bytes. @defaultValue `1048576` (1 MiB) */
  maxBodyBytes?: number;
}

const JSON_HEADERS = { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" };

/** countersign's one JSON error shape: `{ error: { code, title, message } }`. */
function errorResponse(status: number, code: string, title: string, message: string, headers = {}): Response {
  return new Response(JSON.stringify({ error: { code, title, message } }), {
    status,
    headers: { ...JSON_HEADERS, ...headers },
  });
}

/** A body that calls `done` once it has been read to the end or abandoned by the client. */
function untilDone(body: ReadableStream<Uint8Array>, done: () => void): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const chunk = await reader.read();
      if (chunk.done) {
        controller.close();
        done();
      } else controller.enqueue(chunk.value);
    },
    async cancel(reason) {
      done();
      await reader.cancel(reason);
    },
  });
}

/**
 * Serves countersign's MCP tools (see {@link createMcpServer}) over MCP Streamable HTTP, fetch-style:
 * `(Request) => Promise<Response>`. Stateless: POST only (GET and DELETE get 405, as the protocol allows).
 * Mount it beside countersign's HTTP handler; {@link mcpNodeHandler} is the same for bare Node and Express.
 *
 * @example
 * const mcp = mcpHandler(approvals, {
 *   authorize: (request) => request.headers.get("authorization") === `Bearer ${process.env.MCP_TOKEN}`,
 * });
 * honoApp.all("/mcp", (c) => mcp(c.req.raw));
 */
export function mcpHandler(approvals: Approvals, options: McpHandlerOptions): FetchHandler {
  const { authorize, maxBodyBytes = 1024 * 1024, ...serverOptions } = options ?? ({} as McpHandlerOptions);
  if (typeof authorize !== "function") {
    throw new TypeError(
      "mcpHandler needs an authorize(request) function: whoever reaches the tools can ask for approvals in your name",
    );
  }
  // Checked once here, so a bad option fails at startup rather than on the first request.
  createMcpServer(approvals, serverOptions);
  return async (request) => {
    let allowed = false;
    try {
      allowed = (await authorize(request)) === true;
    } catch {
      allowed = false;
    }
    if (!allowed) {
      return errorResponse(401, "UNAUTHORIZED", "Unauthorized", "This MCP endpoint needs valid credentials.", {
        "www-authenticate": 'Bearer realm="countersign"',
      });
    }
    if (request.method !== "POST") {
      return errorResponse(
        405,
        "METHOD_NOT_ALLOWED",
        "Method not allowed",
        "This MCP endpoint is stateless: send JSON-RPC messages with POST.",
        { allow: "POST" },
      );
    }
    const server = createMcpServer(approvals, serverOptions);
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      maxRequestBodySize: maxBodyBytes,
    });
    let closed = false;
    const close = () => {
      if (closed) return;
      closed = true;
      // Closing aborts a wait still in progress: its client has gone.
      void server.close().catch(() => {});
    };
    request.signal.addEventListener("abort", close, { once: true });
    try {
      await server.connect(transport);
      const response = await transport.handleRequest(request);
      if (!response.body) {
        close();
        return response;
      }
      return new Response(untilDone(response.body, close), {
        status: response.status,
        statusText: response.statusText,
        headers: response.headers,
      });
    } catch (error) {
      close();
      throw error;
    }
  };
}

/**
 * {@link mcpHandler} for bare Node and Express: `http.createServer(mcpNodeHandler(approvals, { authorize }))`
 * or `app.post("/mcp", mcpNodeHandler(...))`. Streams the answer as it comes (waits send keep-alives).
 */
export function mcpNodeHandler(approvals: Approvals, options: McpHandlerOptions): NodeHandler {
  const fetch = mcpHandler(approvals, options);
  return async (req, res) => {
    try {
      await send(res, await fetch(toRequest(req, res)));
    } catch {
      // A client gone mid-answer, or a request the fetch API cannot carry: nothing more to say to it.
      if (!res.headersSent) {
        res.statusCode = 400;
        res.end();
      } else res.destroy();
    }
  };
}

function toRequest(req: IncomingMessage, res: ServerResponse): Request {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (Array.isArray(value)) for (const item of value) headers.append(name, item);
    else if (value !== undefined) headers.set(name, value);
  }
  const abort = new AbortController();
  res.once("close", () => {
    if (!res.writableFinished) abort.abort();
  });
  const method = req.method ?? "GET";
  // After a body parser (express.json()), the stream is spent: send what it parsed.
  const parsed = (req as { body?: unknown }).body;
  let body: string | ReadableStream<Uint8Array> | undefined;
  if (method !== "GET" && method !== "HEAD") {
    if (req.readableEnded && parsed !== undefined) {
      body = JSON.stringify(parsed);
      headers.delete("content-length");
    } else body = Readable.toWeb(req) as ReadableStream<Uint8Array>;
  }
  // Only the path matters; the host is a placeholder, never used to build anything.
  return new Request(new URL(req.url ?? "/", "http://mcp.invalid"), {
    method,
    headers,
    signal: abort.signal,
    ...(body === undefined ? {} : { body, duplex: "half" }),
  } as RequestInit);
}

async function send(res: ServerResponse, response: Response): Promise<void> {
  res.statusCode = response.status;
  for (const [name, value] of response.headers) res.setHeader(name, value);
  res.flushHeaders();
  if (!response.body) return void res.end();
  for await (const chunk of response.body) {
    if (res.destroyed) return;
    if (!res.write(chunk)) await new Promise((resolve) => res.once("drain", resolve).once("close", resolve));
  }
  res.end();
}
