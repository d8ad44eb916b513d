/**
 * The HTTP core: `(Request) => Promise<Response>`. Adapters (Node, Express, Fastify) only translate.
 * It reaches the engine only through the reviewer port, and every error becomes a response in
 * `errors.ts`.
 *
 * Routes, relative to where the handler is mounted (a request path that still carries `publicUrl`'s
 * path is accepted too):
 * - `GET|HEAD /r/:token`: the approval page for that token's reviewer (GET records a `viewed` event).
 * - `POST /r/:token`: decides as that reviewer (form or JSON).
 * - `POST /<channel>/<path>`: a channel's inbound requests, e.g. Slack's `/slack/actions`.
 * - `GET|HEAD /healthz`: 200 when the database answers.
 */
import { z } from "zod";
import type { Channel } from "../channels/channel.ts";
import type { ReviewerPort, ReviewerView } from "../core/reviewer-port.ts";
import type { Approval, JsonValue } from "../domain/types.ts";
import { ApprovalError, ERROR_CODES, ValidationError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { parseInput, storableString } from "../validation.ts";
import { isReencoded, leftUnread, mediaType, parseFields, readBody } from "./body.ts";
import { errorResponse, HttpError, type ResponseFormat, type ViewForError } from "./errors.ts";
import { formActions } from "./batch-page.ts";
import { HISTORY_TYPES, PAGE_HEADERS, renderApprovalPage } from "./page.ts";

export type FetchHandler = (request: Request) => Promise<Response>;

/** What the handler needs of the options. */
export interface HandlerOptions {
  publicUrl: string;
  http: { maxBodyBytes: number };
  channels: Channel[];
  logger: Logger;
}

const TOKEN_ROUTE = /^\/r\/([^/]+)\/?$/;
const CHANNEL_ROUTE = /^\/([A-Za-z0-9_.-]+)\/([A-Za-z0-9_/-]+)$/;

const decisionFields = z.object({
  /** `actions`: a batch's form, whose per-action choices are in `action.<n>` fields. */
  decision: z.enum(["approve", "reject", "actions"], { error: 'must be "approve" or "reject"' }).optional(),
  /** JSON, for a batch: the decision on each open action by id. */
  actions: z.record(z.string(), z.unknown(), { error: "must be an object of action id: decision" }).optional(),
  comment: storableString().max(2000, { error: "must be at most 2000 characters" }).optional(),
  /** The payload revision the page showed (a form sends it as text). */
  revision: z.coerce.number({ error: "must be a revision number" }).int().min(1).optional(),
  /** JSON: new values for editable fields. */
  edits: z.record(z.string(), z.unknown(), { error: "must be an object of field: new value" }).optional(),
});

/** A form's `edit.<field>` inputs, as typed text. */
function formEdits(fields: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(fields).flatMap(([name, value]) =>
      name.startsWith("edit.") && typeof value === "string" ? [[name.slice("edit.".length), value]] : [],
    ),
  );
}

export function createFetchHandler(port: ReviewerPort, options: HandlerOptions): FetchHandler {
  const { logger } = options;
  const mountPath = new URL(options.publicUrl).pathname.replace(/\/+$/, "");
  const limit = options.http.maxBodyBytes;

  const relativePath = (pathname: string) =>
    mountPath && (pathname === mountPath || pathname.startsWith(`${mountPath}/`))
      ? pathname.slice(mountPath.length) || "/"
      : pathname;

  return async function fetch(request: Request): Promise<Response> {
    const format = wantsJson(request) ? "json" : "html";
    let response: Response;
    try {
      response = await route(request, format);
    } catch (error) {
      response = errorResponse(error, { format, logger });
    }
    if (leftUnread(request)) response.headers.set("connection", "close");
    return response;
  };

  async function route(request: Request, format: ResponseFormat): Promise<Response> {
    const url = new URL(request.url);
    const path = relativePath(url.pathname);
    if (path === "/healthz") return health(request);
    const token = TOKEN_ROUTE.exec(path)?.[1];
    if (token !== undefined) {
      // Tokens are base64url: a segment that needs decoding is not one, and is answered 404 like any other.
      if (request.method === "GET" || request.method === "HEAD") return showPage(request, url, token, format);
      if (request.method === "POST") return submitDecision(request, token, format);
      throw methodNotAllowed("GET, HEAD, POST");
    }
    const channelRoute = CHANNEL_ROUTE.exec(path);
    const channel = channelRoute && options.channels.find((c) => c.name === channelRoute[1] && c.handleRequest);
    if (channel && channelRoute?.[2]) {
      if (request.method !== "POST") throw methodNotAllowed("POST");
      return toChannel(channel, channelRoute[2], request);
    }
    throw new HttpError(404, "Not found", "There is nothing at this address.");
  }

  async function health(request: Request): Promise<Response> {
    if (request.method !== "GET" && request.method !== "HEAD") throw methodNotAllowed("GET, HEAD");
    await port.ping();
    return Response.json({ status: "ok" }, { headers: { "cache-control": "no-store" } });
  }

  async function showPage(request: Request, url: URL, token: string, format: ResponseFormat): Promise<Response> {
    const history = historyFor(format);
    const view = await port.open(token, {
      ...(history ? { history } : {}),
      ...(request.method === "GET" ? { sighting: { userAgent: userAgent(request) } } : {}),
    });
    if (!view) throw linkNotFound();
    const preselect = url.searchParams.get("decision");
    return respond(request, 200, format, view, {
      preselect: preselect === "approve" || preselect === "reject" ? preselect : undefined,
    });
  }

  /**
   * The body is read and checked before the link: the link's read is also the facts the decision is
   * planned on, and the deadline is judged at that read, so it must not wait on a slow upload.
   */
  async function submitDecision(request: Request, token: string, format: ResponseFormat): Promise<Response> {
    const raw = parseFields(await readBody(request, limit), mediaType(request));
    const fields = parseInput(decisionFields, raw, "decision");
    const typed = mediaType(request) === "application/json";
    if (!fields.decision && !(typed && fields.actions)) {
      throw new ValidationError("decision", [{ path: "decision", message: 'must be "approve" or "reject"' }]);
    }
    const outcome = fields.decision === "approve" || fields.decision === "reject" ? fields.decision : undefined;
    const toDecision = (approval: Approval) => ({
      ...(outcome ? { outcome } : {}),
      ...(typed && fields.actions ? { actions: fields.actions } : {}),
      // A batch's form names actions by position: read them against the approval as the link read it.
      ...(!typed && fields.decision === "actions" ? { formActions: formActions(approval, raw) } : {}),
      ...(fields.comment?.trim() ? { comment: fields.comment } : {}),
      via: "http",
      context: { userAgent: userAgent(request) },
      ...(fields.revision !== undefined ? { revision: fields.revision } : {}),
      // A form always sends its edit inputs: they count only when the reviewer approves.
      ...(typed && fields.edits ? { edits: fields.edits as Record<string, JsonValue> } : {}),
      ...(!typed && outcome === "approve" ? { formEdits: formEdits(raw) } : {}),
    });
    const decided = await port.decideByLink(token, toDecision, { history: historyFor(format) });
    if (!decided) throw linkNotFound();
    const { view } = decided;
    // A refused decision is answered with the approval as it now stands.
    if ("refused" in decided) return errorResponse(decided.refused, { format, logger, view: pageOf(view) });
    const reviewer = view.reviewer;
    const done = view.approval.actions
      ? "decided on each action of"
      : outcome === "reject"
        ? "rejected"
        : view.approval.edits.some((edit) => edit.by === reviewer && edit.revision === view.approval.revision)
          ? "approved, with your changes,"
          : "approved";
    return respond(request, 200, format, view, { notice: `Thank you. You ${done} this request.` });
  }

  /** How an error response shows the approval: the page with a notice, or the approval in JSON. */
  function pageOf(view: ReviewerView): ViewForError {
    return {
      approval: view.approval,
      page: (notice) => pageHtml(view, { notice }),
    };
  }

  function respond(
    request: Request,
    status: number,
    format: ResponseFormat,
    view: ReviewerView,
    extra: { preselect?: "approve" | "reject" | undefined; notice?: string },
  ): Response {
    if (format === "json") {
      const body = {
        approval: view.approval,
        reviewer: view.reviewer,
        canDecide: view.ineligibility === undefined,
        ...(extra.notice ? { message: extra.notice } : {}),
      };
      return Response.json(body, {
        status,
        headers: { "cache-control": "no-store", "referrer-policy": "no-referrer" },
      });
    }
    return new Response(request.method === "HEAD" ? null : pageHtml(view, extra), { status, headers: PAGE_HEADERS });
  }

  function pageHtml(
    view: ReviewerView,
    extra: { preselect?: "approve" | "reject" | undefined; notice?: string },
  ): string {
    return renderApprovalPage({
      approval: view.approval,
      reviewer: view.reviewer,
      history: view.history,
      ineligibility: view.ineligibility,
      preselect: extra.preselect,
      notice: extra.notice ? { text: extra.notice } : undefined,
      now: new Date(),
    });
  }

  async function toChannel(channel: Channel, path: string, request: Request): Promise<Response> {
    const body = await readBody(request, limit);
    const handle = channel.handleRequest as NonNullable<Channel["handleRequest"]>;
    try {
      return await handle({ path, request, body, actions: port.channelActions(channel.name) });
    } catch (error) {
      if (error instanceof ApprovalError && error.code === ERROR_CODES.SIGNATURE_REFUSED && isReencoded(request)) {
        // Otherwise a silent 401: the signature was made over bytes a body parser has since thrown away.
        logger.error(
          { channel: channel.name, path },
          `countersign: a body parser consumed the ${channel.name} request before countersign, so its signature cannot be checked. ` +
            "Mount countersign before the parser (app.use('/approvals', expressHandler(approvals)) first), or keep the raw bytes: " +
            "express.urlencoded({ verify: (req, _res, buf) => { req.rawBody = buf } }).",
        );
      }
      // Channels' callers are machines (Slack): they get JSON whatever they accept.
      return errorResponse(error, { format: "json", logger });
    }
  }
}

/** The page shows the history; JSON answers do not need it. */
const historyFor = (format: ResponseFormat) => (format === "html" ? HISTORY_TYPES : undefined);

/** For the audit trail; clipped, since any client can send any length. */
const userAgent = (request: Request) => (request.headers.get("user-agent") ?? "").slice(0, 300);

function linkNotFound(): HttpError {
  return new HttpError(
    404,
    "Link not found",
    "This approval link is not valid or has expired. Ask the requester for a new one.",
  );
}

function methodNotAllowed(allow: string): HttpError {
  return new HttpError(405, "Method not allowed", `This address answers ${allow}.`, { allow });
}

/** JSON for JSON requests and for clients that ask for it; HTML (the page) otherwise. */
function wantsJson(request: Request): boolean {
  if (mediaType(request) === "application/json") return true;
  const accept = request.headers.get("accept") ?? "";
  return accept.includes("application/json") && !accept.includes("text/html");
}
