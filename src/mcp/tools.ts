/**
 * The MCP tools: ask for an approval, look at it, wait for its decision, list what is pending. Built on
 * the public API only. No tool ever answers a reviewer's token or link, and none decides: the agent that
 * asks must never be able to approve its own request.
 */
import { createRequire } from "node:module";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import {
  type ActionRequest,
  ApprovalError,
  type Approval,
  type Approvals,
  type Decision,
  ERROR_CODES,
  type JsonValue,
  ValidationError,
} from "../index.ts";

// The same relative path from src/mcp and dist/mcp; package.json is always in the package.
const { version } = createRequire(import.meta.url)("../../package.json") as { version: string };

/** Options of {@link createMcpServer}. */
export interface McpServerOptions {
  /** The server's name, as MCP clients show it. @defaultValue `"countersign"` */
  name?: string;
  /** `requestedBy` of a request that names none. @defaultValue `"mcp://agent"` */
  requestedBy?: string;
  /** `type` of a request that names none. @defaultValue `"mcp.request.v1"` */
  type?: string;
  /** The longest one `wait_for_decision` call may wait, in seconds. @defaultValue `300` */
  maxWaitSeconds?: number;
}

const DEFAULT_WAIT_SECONDS = 30;
/** How often a wait that the client asked progress for reports it (progress keeps client timeouts at bay). */
const PROGRESS_EVERY_MS = 10_000;

const INSTRUCTIONS = `Human approval for actions you must not take on your own.
Call request_approval before the action, then wait_for_decision with the id it returns, again and again while the status is "pending".
Proceed only when the decision says approved: true. Rejected, timed out or cancelled means do not proceed; tell the user why (the reviewer's comment).
When a reviewer approved with edits, use the decision's payload, not the one you asked with.
For several tool calls asked as actions, run only those whose decision.actions entry says approve, each with that entry's input.
You cannot approve or reject anything yourself: reviewers decide through their own channels.`;

const ok = (value: Record<string, unknown>): CallToolResult => ({
  content: [{ type: "text", text: JSON.stringify(value, null, 2) }],
  structuredContent: value,
});

/** countersign's errors become a tool error the model can read and act on; anything else is the SDK's to report. */
function failed(error: unknown): CallToolResult {
  if (!(error instanceof ApprovalError)) throw error;
  const issues = error instanceof ValidationError ? { issues: error.issues } : {};
  return {
    content: [{ type: "text", text: `${error.code}: ${error.message}` }],
    structuredContent: { error: { code: error.code, message: error.message, ...issues } },
    isError: true,
  };
}

async function run(work: () => Promise<Record<string, unknown>>): Promise<CallToolResult> {
  try {
    return ok(await work());
  } catch (error) {
    return failed(error);
  }
}

/** Reviewers the current step is waiting on. */
function waitingOn(approval: Approval): string[] {
  const step = approval.steps[approval.currentStep];
  return step?.reviewers.filter((r) => r.active && !r.vote).map((r) => r.reviewer) ?? [];
}

function decisionSummary(decision: Decision): Record<string, unknown> {
  return {
    id: decision.id,
    status: decision.status,
    approved: decision.approved,
    decidedBy: decision.decidedBy,
    onBehalfOf: decision.onBehalfOf,
    comment: decision.comment,
    via: decision.via,
    decidedAt: decision.decidedAt.toISOString(),
    revision: decision.revision,
    payload: decision.payload,
    edits: decision.edits,
    ...(decision.actions ? { actions: decision.actions } : {}),
  };
}

function approvalSummary(approval: Approval): Record<string, unknown> {
  return {
    id: approval.id,
    type: approval.type,
    title: approval.title,
    status: approval.status,
    requestedBy: approval.requestedBy,
    createdAt: approval.createdAt.toISOString(),
    deadline: approval.deadline.toISOString(),
    timeoutAction: approval.timeoutAction,
    waitingOn: approval.status === "pending" ? waitingOn(approval) : [],
    decision: approval.decision ? decisionSummary(approval.decision) : null,
  };
}

function stepsSummary(approval: Approval): Record<string, unknown>[] {
  return approval.steps.map((step) => ({
    name: step.name,
    status: step.status,
    quorum: step.quorum,
    approvals: step.reviewers.filter((r) => r.vote?.outcome === "approve").length,
    escalationLevel: step.escalationLevel,
    reviewers: step.reviewers.map((r) => ({
      reviewer: r.reviewer,
      level: r.level,
      active: r.active,
      vote: r.vote
        ? { outcome: r.vote.outcome, comment: r.vote.comment, via: r.vote.via, at: r.vote.at.toISOString() }
        : null,
    })),
  }));
}

const id = z.string().describe("The approval id (a UUID) that request_approval returned.");

type Settings = Required<McpServerOptions>;

const escalationLevels = z.array(z.array(z.string()).min(1)).optional();

const requestShape = (options: Settings) => ({
  type: z
    .string()
    .optional()
    .describe(`A stable name for this kind of approval, e.g. "deploy.production.v1". Default "${options.type}".`),
  title: z.string().describe("What is asked, in one line a reviewer understands, e.g. 'Deploy billing 2.4.0'."),
  payload: z
    .record(z.string(), z.unknown())
    .optional()
    .describe("The details a reviewer judges (a JSON object, at most 256 KiB)."),
  actions: z
    .array(
      z.object({
        id: z.string().describe("Unique in this request, e.g. your tool call's id."),
        name: z.string().describe("The tool's name."),
        input: z.record(z.string(), z.unknown()).describe("The tool's arguments."),
        editable: z.array(z.string()).optional().describe("Arguments a reviewer may change when approving."),
        inputSchema: z
          .record(z.string(), z.unknown())
          .optional()
          .describe("The tool's parameters as JSON Schema: a reviewer's change must satisfy it."),
        description: z.string().optional().describe("What the call does, for the reviewer."),
      }),
    )
    .min(1)
    .optional()
    .describe(
      "Several tool calls put to the reviewers in one review, each approved or rejected on its own (instead of payload).",
    ),
  reviewers: z
    .array(z.string())
    .min(1)
    .optional()
    .describe(
      "Who may decide (e-mail addresses or ids such as slack:#finance); any one of them decides. Give this or steps.",
    ),
  escalation: escalationLevels.describe(
    "Escalation levels: reviewers who are asked too when nobody decided in time, level by level.",
  ),
  steps: z
    .array(
      z.object({
        name: z.string().describe('What this sign-off is, e.g. "finance".'),
        reviewers: z.array(z.string()).min(1).describe("Who may sign off at this step."),
        quorum: z.number().int().min(1).optional().describe("How many distinct approvals this step needs. Default 1."),
        escalation: escalationLevels.describe("This step's escalation levels, as for the top-level escalation."),
      }),
    )
    .min(1)
    .optional()
    .describe(
      "Sign-offs in order, for a chain (say engineering, then finance): each step must pass before the next is asked. Give this or reviewers.",
    ),
  requestedBy: z
    .string()
    .optional()
    .describe(`Who asks, e.g. "agent://myorg/report-generator"; never a reviewer. Default "${options.requestedBy}".`),
  timeout: z
    .string()
    .optional()
    .describe(
      'How long reviewers have, e.g. "30m", "8h", "2d". Default: the app\'s default, 8h unless it set another.',
    ),
  timeoutAction: z
    .enum(["approve", "reject", "cancel"])
    .optional()
    .describe('What happens when nobody decides in time. Default: the app\'s default, "reject" unless it set another.'),
  idempotencyKey: z
    .string()
    .optional()
    .describe("The same key returns the same approval instead of asking again (use it when you retry)."),
});

/**
 * An MCP server with countersign's tools: `request_approval`, `get_approval`, `wait_for_decision`,
 * `list_pending`. Connect it to any transport of the MCP SDK; `countersign mcp` serves it over stdio and
 * {@link mcpHandler} over Streamable HTTP.
 *
 * @example
 * const server = createMcpServer(approvals, { requestedBy: "agent://release-bot" });
 * await server.connect(new StdioServerTransport());
 */
export function createMcpServer(approvals: Approvals, options: McpServerOptions = {}): McpServer {
  const settings: Settings = {
    name: options.name ?? "countersign",
    requestedBy: options.requestedBy ?? "mcp://agent",
    type: options.type ?? "mcp.request.v1",
    maxWaitSeconds: options.maxWaitSeconds ?? 300,
  };
  if (!Number.isInteger(settings.maxWaitSeconds) || settings.maxWaitSeconds < 1) {
    throw new ValidationError("createMcpServer options", [
      { path: "maxWaitSeconds", message: "must be a whole number of seconds, at least 1" },
    ]);
  }
  const server = new McpServer({ name: settings.name, version }, { instructions: INSTRUCTIONS });
  for (const register of [requestTool, getTool, waitTool, listTool]) register(server, approvals, settings);
  return server;
}

function requestTool(server: McpServer, approvals: Approvals, settings: Settings): void {
  server.registerTool(
    "request_approval",
    {
      title: "Ask a human for approval",
      description:
        "Asks one or more people (or a chain of sign-offs, with steps) to approve an action, or several tool calls at once (actions), before you take it. Returns the approval id and its status " +
        "(pending); the reviewers are notified through their own channels. Then call wait_for_decision with the id.",
      inputSchema: requestShape(settings),
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
    },
    (input) =>
      run(async () => {
        const approval = await approvals.requestApproval({
          type: input.type ?? settings.type,
          title: input.title,
          requestedBy: input.requestedBy ?? settings.requestedBy,
          ...(input.reviewers ? { reviewers: input.reviewers } : {}),
          ...(input.steps ? { steps: input.steps } : {}),
          ...(input.payload !== undefined ? { payload: input.payload as JsonValue } : {}),
          ...(input.actions ? { actions: input.actions as ActionRequest[] } : {}),
          ...(input.escalation ? { escalation: input.escalation } : {}),
          ...(input.timeout || input.timeoutAction
            ? {
                timeout: {
                  ...(input.timeout ? { after: input.timeout } : {}),
                  ...(input.timeoutAction ? { action: input.timeoutAction } : {}),
                },
              }
            : {}),
          ...(input.idempotencyKey ? { idempotencyKey: input.idempotencyKey } : {}),
        });
        return {
          ...approvalSummary(approval),
          next:
            approval.status === "pending"
              ? "Call wait_for_decision with this id until the status is no longer pending."
              : "Already decided: see decision.",
        };
      }),
  );
}

function getTool(server: McpServer, approvals: Approvals): void {
  server.registerTool(
    "get_approval",
    {
      title: "Look at an approval",
      description: "The approval's status, its steps (who voted how, who is still asked) and its decision once final.",
      inputSchema: { id },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    ({ id }) =>
      run(async () => {
        const approval = await approvals.get(id);
        return { ...approvalSummary(approval), currentStep: approval.currentStep, steps: stepsSummary(approval) };
      }),
  );
}

function waitTool(server: McpServer, approvals: Approvals, settings: Settings): void {
  server.registerTool(
    "wait_for_decision",
    {
      title: "Wait for the decision",
      description:
        `Waits up to waitSeconds (default ${DEFAULT_WAIT_SECONDS}, at most ${settings.maxWaitSeconds}) for the approval's decision. ` +
        'Returns the decision (approved: true means you may proceed), or status "pending" when nobody decided yet: then call it again.',
      inputSchema: {
        id,
        waitSeconds: z
          .number()
          .int()
          .min(1)
          .max(settings.maxWaitSeconds)
          .optional()
          .describe(`How long to wait at most, in seconds. Default ${DEFAULT_WAIT_SECONDS}.`),
      },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    ({ id, waitSeconds }, extra) =>
      run(async () => {
        const seconds = Math.min(waitSeconds ?? DEFAULT_WAIT_SECONDS, settings.maxWaitSeconds);
        const progressToken = extra._meta?.progressToken;
        const started = Date.now();
        const progress =
          progressToken === undefined
            ? undefined
            : setInterval(() => {
                const elapsed = Math.round((Date.now() - started) / 1000);
                extra
                  .sendNotification({
                    method: "notifications/progress",
                    params: { progressToken, progress: elapsed, total: seconds, message: "Waiting for a reviewer" },
                  })
                  .catch(() => {});
              }, PROGRESS_EVERY_MS);
        try {
          const decision = await approvals.waitForDecision(id, { timeout: seconds * 1000, signal: extra.signal });
          return decisionSummary(decision);
        } catch (error) {
          if (!(error instanceof ApprovalError) || error.code !== ERROR_CODES.WAIT_TIMEOUT) throw error;
          const approval = await approvals.get(id);
          if (approval.decision) return decisionSummary(approval.decision);
          return {
            id,
            status: "pending",
            approved: false,
            deadline: approval.deadline.toISOString(),
            waitingOn: waitingOn(approval),
            next: `Nobody decided within ${seconds} s. Do not proceed yet; call wait_for_decision again.`,
          };
        } finally {
          clearInterval(progress);
        }
      }),
  );
}

function listTool(server: McpServer, approvals: Approvals): void {
  server.registerTool(
    "list_pending",
    {
      title: "List pending approvals",
      description: "Pending approvals, newest first: ids, titles, who is asked and the deadlines.",
      inputSchema: {
        reviewer: z.string().optional().describe("Only approvals that name this reviewer."),
        type: z.string().optional().describe("Only approvals of this type."),
        limit: z.number().int().min(1).max(100).optional().describe("At most this many. Default 20."),
        cursor: z.string().optional().describe("nextCursor of the previous call, for the next page."),
      },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    (query) =>
      run(async () => {
        const page = await approvals.list({
          status: "pending",
          limit: query.limit ?? 20,
          ...(query.reviewer ? { reviewer: query.reviewer } : {}),
          ...(query.type ? { type: query.type } : {}),
          ...(query.cursor ? { cursor: query.cursor } : {}),
        });
        return {
          items: page.items.map((approval) => ({
            id: approval.id,
            type: approval.type,
            title: approval.title,
            requestedBy: approval.requestedBy,
            createdAt: approval.createdAt.toISOString(),
            deadline: approval.deadline.toISOString(),
            waitingOn: waitingOn(approval),
          })),
          nextCursor: page.nextCursor ?? null,
        };
      }),
  );
}
