/**
 * The HTTP core: `(Request) => Promise<Response>`. Adapters (Node, Express, Fastify) only translate.
 *
 * Routes, relative to where the handler is mounted (a request path that still carries `publicUrl`'s
 * path is accepted too):
 * - `GET|HEAD /r/:token`: the approval page for that token's reviewer (GET records a `viewed` event).
 * - `POST /r/:token`: decides as that reviewer (form or JSON).
 * - `POST /<channel>/<path>`: a channel's inbound requests, e.g. Slack's `/slack/actions`.
 * - `GET|HEAD /healthz`: 200 when the database answers.
 */
import { sql } from "kysely";
import { z } from "zod";
import type { Channel } from "../channels/channel.ts";
import type { EngineContext } from "../core/engine.ts";
import { eligibility, recordView, reviewerForToken } from "../core/reviewer-access.ts";
import type { Approval, JsonValue } from "../core/types.ts";
import { AlreadyDecidedError, NotAReviewerError } from "../errors.ts";
import { firstSighting, listEvents } from "../store/event-store.ts";
import { parseInput, storableString } from "../validation.ts";
import { isReencoded, leftUnread, mediaType, parseFields, readBody } from "./body.ts";
import { errorResponse, HttpError, type ResponseFormat } from "./errors.ts";
import { HISTORY_TYPES, PAGE_HEADERS, renderApprovalPage } from "./page.ts";

/** What the handler needs from the approvals service. */
export interface HandlerServices {
  ctx: EngineContext;
  get(id: string): Promise<Approval>;
  decide(
    id: string,
    input: {
      reviewer: string;
      voter?: string;
      outcome: "approve" | "reject";
      comment?: string;
      via: string;
      context?: Record<string, JsonValue>;
    },
  ): Promise<Approval>;
}

export type FetchHandler = (request: Request) => Promise<Response>;

const TOKEN_ROUTE = /^\/r\/([^/]+)\/?$/;
const CHANNEL_ROUTE = /^\/([A-Za-z0-9_-]+)\/([A-Za-z0-9_/-]+)$/;

const decisionFields = z.object({
  decision: z.enum(["approve", "reject"], { error: 'must be "approve" or "reject"' }),
  comment: storableString().max(2000, { error: "must be at most 2000 characters" }).optional(),
});

export function createFetchHandler(services: HandlerServices): FetchHandler {
  const { ctx } = services;
  const { logger } = ctx.options;
  const mountPath = new URL(ctx.options.publicUrl).pathname.replace(/\/+$/, "");
  const limit = ctx.options.http.maxBodyBytes;

  const relativePath = (pathname: string) =>
    mountPath && (pathname === mountPath || pathname.startsWith(`${mountPath}/`))
      ? pathname.slice(mountPath.length) || "/"
      : pathname;

  return async function fetch(request: Request): Promise<Response> {
    const response = await route(request);
    if (leftUnread(request)) response.headers.set("connection", "close");
    return response;
  };

  async function route(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const path = relativePath(url.pathname);
    const format = wantsJson(request) ? "json" : "html";
    try {
      if (path === "/healthz") return await health(request);
      const token = TOKEN_ROUTE.exec(path)?.[1];
      if (token !== undefined) {
        // Tokens are base64url: a segment that needs decoding is not one, and is answered 404 like any other.
        if (request.method === "GET" || request.method === "HEAD") return await showPage(request, url, token, format);
        if (request.method === "POST") return await submitDecision(request, token, format);
        throw methodNotAllowed("GET, HEAD, POST");
      }
      const channelRoute = CHANNEL_ROUTE.exec(path);
      const channel = channelRoute && ctx.options.channels.find((c) => c.name === channelRoute[1] && c.handleRequest);
      if (channel && channelRoute?.[2]) {
        if (request.method !== "POST") throw methodNotAllowed("POST");
        return await toChannel(channel, channelRoute[2], request);
      }
      throw new HttpError(404, "Not found", "There is nothing at this address.");
    } catch (error) {
      return errorResponse(error, format, logger);
    }
  }

  async function health(request: Request): Promise<Response> {
    if (request.method !== "GET" && request.method !== "HEAD") throw methodNotAllowed("GET, HEAD");
    try {
      await ctx.database.run((db) => sql`select 1`.execute(db));
      return Response.json({ status: "ok" }, { headers: { "cache-control": "no-store" } });
    } catch (error) {
      logger.warn({ error: String(error) }, "countersign: health check failed");
      return Response.json({ status: "unavailable", message: "The database does not answer." }, { status: 503 });
    }
  }

  /** A token that is malformed, unknown or expired gets the same 404. */
  async function resolve(token: string) {
    const found = await reviewerForToken(ctx, token);
    if (!found) {
      throw new HttpError(
        404,
        "Link not found",
        "This approval link is not valid or has expired. Ask the requester for a new one.",
      );
    }
    return found;
  }

  async function showPage(request: Request, url: URL, token: string, format: ResponseFormat): Promise<Response> {
    const { approvalId, reviewer } = await resolve(token);
    if (request.method === "GET") await recordView(ctx, approvalId, reviewer, { userAgent: userAgent(request) });
    const preselect = url.searchParams.get("decision");
    return respond(request, 200, format, {
      approvalId,
      reviewer,
      preselect: preselect === "approve" || preselect === "reject" ? preselect : undefined,
    });
  }

  async function submitDecision(request: Request, token: string, format: ResponseFormat): Promise<Response> {
    const { approvalId, reviewer } = await resolve(token);
    const fields = parseInput(
      decisionFields,
      parseFields(await readBody(request, limit), mediaType(request)),
      "decision",
    );
    try {
      await services.decide(approvalId, {
        reviewer,
        outcome: fields.decision,
        ...(fields.comment?.trim() ? { comment: fields.comment } : {}),
        via: "http",
        context: { userAgent: userAgent(request) },
      });
    } catch (error) {
      if (error instanceof AlreadyDecidedError) {
        return respond(request, 409, format, { approvalId, reviewer, notice: `Not recorded: ${error.message}`, error });
      }
      if (error instanceof NotAReviewerError) {
        return respond(request, 403, format, {
          approvalId,
          reviewer,
          notice: "Not recorded: you cannot decide this step.",
          error,
        });
      }
      throw error;
    }
    const done = fields.decision === "approve" ? "approved" : "rejected";
    return respond(request, 200, format, { approvalId, reviewer, notice: `Thank you. You ${done} this request.` });
  }

  async function respond(
    request: Request,
    status: number,
    format: ResponseFormat,
    view: {
      approvalId: string;
      reviewer: string;
      preselect?: "approve" | "reject" | undefined;
      notice?: string;
      error?: Error;
    },
  ): Promise<Response> {
    const approval = await services.get(view.approvalId);
    const canDecide = eligibility(approval, view.reviewer);
    if (format === "json") {
      const body = view.error
        ? { error: { code: (view.error as AlreadyDecidedError).code, message: view.error.message }, approval }
        : {
            approval,
            reviewer: view.reviewer,
            canDecide: canDecide.canDecide,
            ...(view.notice ? { message: view.notice } : {}),
          };
      return Response.json(body, {
        status,
        headers: { "cache-control": "no-store", "referrer-policy": "no-referrer" },
      });
    }
    const page = renderApprovalPage({
      approval,
      reviewer: view.reviewer,
      history: await ctx.database.run((db) => listEvents(db, view.approvalId, HISTORY_TYPES)),
      eligibility: canDecide,
      preselect: view.preselect,
      notice: view.notice ? { text: view.notice } : undefined,
      now: new Date(),
    });
    return new Response(request.method === "HEAD" ? null : page, { status, headers: PAGE_HEADERS });
  }

  async function toChannel(channel: Channel, path: string, request: Request): Promise<Response> {
    const body = await readBody(request, limit);
    const response = await (channel.handleRequest as NonNullable<Channel["handleRequest"]>)({
      path,
      request,
      body,
      actions: {
        get: services.get,
        decide: (id, input) => services.decide(id, { ...input, via: channel.name }),
        firstSighting: (digest, windowMs) =>
          ctx.database.transaction((db) => firstSighting(db, channel.name, digest, windowMs)),
      },
    });
    if (response.status === 401 && isReencoded(request)) {
      // Otherwise a silent 401: the signature was made over bytes a body parser has since thrown away.
      logger.error(
        { channel: channel.name, path },
        `countersign: a body parser consumed the ${channel.name} request before countersign, so its signature cannot be checked. ` +
          "Mount countersign before the parser (app.use('/approvals', expressHandler(approvals)) first), or keep the raw bytes: " +
          "express.urlencoded({ verify: (req, _res, buf) => { req.rawBody = buf } }).",
      );
    }
    return response;
  }
}

/** For the audit trail; clipped, since any client can send any length. */
const userAgent = (request: Request) => (request.headers.get("user-agent") ?? "").slice(0, 300);

function methodNotAllowed(allow: string): HttpError {
  return new HttpError(405, "Method not allowed", `This address answers ${allow}.`, { allow });
}

/** JSON for JSON requests and for clients that ask for it; HTML (the page) otherwise. */
function wantsJson(request: Request): boolean {
  if (mediaType(request) === "application/json") return true;
  const accept = request.headers.get("accept") ?? "";
  return accept.includes("application/json") && !accept.includes("text/html");
}
