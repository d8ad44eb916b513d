/**
 * Fastify adapter: a plugin for an encapsulated context, so the raw body reaches the core unparsed
 * (Slack signatures need the exact bytes) without touching the host's own content-type parsers.
 *
 * ```ts
 * import { fastifyPlugin } from "countersign/fastify";
 * await fastify.register(fastifyPlugin(approvals), { prefix: "/approvals" });
 * ```
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { Readable } from "node:stream";
import type { FetchHandler } from "./handler.ts";
import { respondTo } from "./node.ts";

/** The parts of Fastify this plugin uses; no dependency on fastify itself. */
export interface FastifyLikeInstance {
  readonly prefix: string;
  removeAllContentTypeParsers(): void;
  addContentTypeParser(
    type: string,
    parser: (request: unknown, payload: IncomingMessage, done: (error: Error | null, body?: unknown) => void) => void,
  ): void;
  route(options: {
    method: string[];
    url: string;
    exposeHeadRoute?: boolean;
    handler: (request: FastifyLikeRequest, reply: FastifyLikeReply) => Promise<unknown>;
  }): void;
}
interface FastifyLikeRequest {
  raw: IncomingMessage;
  body?: unknown;
}
interface FastifyLikeReply {
  raw: ServerResponse;
  code(status: number): FastifyLikeReply;
  header(name: string, value: string): FastifyLikeReply;
  send(payload: unknown): FastifyLikeReply;
}

const METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

export function fastifyPlugin(approvals: { fetch: FetchHandler }) {
  return async function countersign(fastify: FastifyLikeInstance): Promise<void> {
    fastify.removeAllContentTypeParsers();
    fastify.addContentTypeParser("*", (_request, payload, done) => done(null, payload));
    const prefix = fastify.prefix;
    const handler = async (request: FastifyLikeRequest, reply: FastifyLikeReply) => {
      const url = request.raw.url ?? "/";
      const path = prefix && url.startsWith(prefix) ? url.slice(prefix.length) || "/" : url;
      const stream = request.body instanceof Readable ? request.body : undefined;
      const response = await respondTo(approvals.fetch, request.raw, {
        path,
        ...(stream ? { body: Readable.toWeb(stream) as ReadableStream<Uint8Array> } : {}),
      });
      reply.code(response.status);
      for (const [name, value] of response.headers) reply.header(name, value);
      return reply.send(Buffer.from(await response.arrayBuffer()));
    };
    fastify.route({ method: METHODS, url: "/*", exposeHeadRoute: false, handler });
    fastify.route({ method: METHODS, url: "/", exposeHeadRoute: false, handler });
  };
}
