/**
 * The OpenAI Agents SDK (`@openai/agents` 0.20+) adapter: the tool calls a run stopped at
 * (`result.interruptions`, from tools with `needsApproval`) become one countersign batch, a decision per
 * call, and the reviewers' decision goes back onto the run's `RunState` (`approve`, or `reject` with the
 * reviewer's reason as the text the model reads instead of the tool's output) for `run(agent, state)`.
 *
 * The run state is not kept in a file or in memory: its serialized form rides in the approval's
 * `metadata`, written in the same statement as the approval (and, given `{ db }`, in the host's own
 * transaction), so any process can resume the run, and `resumeOnDecision` resumes it from the worker.
 *
 * The SDK is an optional peer dependency. Its types are used at compile time; at run time it is loaded
 * lazily, by `restoreRun` (for `RunState.fromString`) and by `resumeOnDecision` when no `run` is given,
 * so importing this module costs nothing until then. Being a peer dependency, it resolves to the host's
 * own copy, so the `RunState` it makes is the one the host's `run()` recognises.
 */
import { createHash } from "node:crypto";
import type { Agent, RunResult, RunState, RunToolApprovalItem } from "@openai/agents";
import {
  ValidationError,
  type ActionRequest,
  type Approval,
  type ApprovalRequest,
  type Approvals,
  type Decision,
  type DecisionAction,
  type HostDb,
  type JsonValue,
  type ResumeContext,
} from "../index.ts";

/** The approval type a batch gets unless `type` is given. */
export const OPENAI_AGENTS_APPROVAL_TYPE = "openai-agents.tool_calls.v1";

/** The `metadata` key that holds the serialized run state (`RunState.toString()`). */
export const RUN_STATE_METADATA_KEY = "openaiAgentsRunState";

// The SDK's own functions constrain agents this way (`TAgent extends Agent<any, any>`).
// biome-ignore lint/suspicious/noExplicitAny: matches the SDK's constraint, so any agent the host has fits
type AnyAgent = Agent<any, any>;

/** A run that stopped at tool calls needing approval: a `RunResult` or a finished `StreamedRunResult`. */
export interface PausedRun {
  interruptions: RunToolApprovalItem[];
  state: { toString(): string };
}

/**
 * Options of {@link requestRunApprovals}: those of `requestApproval` (reviewers or steps, escalation,
 * reminders, timeout, …) except what the adapter fills in from the run (the actions, the idempotency
 * key) and `editable`, which it never sets (see {@link applyDecision}).
 */
export interface RunApprovalOptions
  extends Omit<
    ApprovalRequest,
    "type" | "title" | "payload" | "actions" | "metadata" | "idempotencyKey" | "editable" | "payloadSchema"
  > {
  /** @defaultValue {@link OPENAI_AGENTS_APPROVAL_TYPE} */
  type?: string;
  /** @defaultValue `"<agent> wants to call <tool>"`, or the number of calls and their tools */
  title?: string;
  /** The host's own data kept with the approval, beside the run state. @defaultValue `{}` */
  metadata?: Record<string, JsonValue>;
  /** The host's transaction (kysely or a `pg` client inside BEGIN): the approval commits with its rows. */
  db?: HostDb;
}

/**
 * Asks for one review of every tool call the run stopped at: one action per call (its id is the call
 * id, its name the tool's, its input the parsed arguments), with the serialized run state in the
 * approval's metadata. Idempotent: the key is derived from the call ids, so asking again for the same
 * pause returns the same approval.
 *
 * @example
 * const result = await run(agent, task);
 * if (result.interruptions.length > 0)
 *   await requestRunApprovals(approvals, result, { requestedBy: "agent://treasury", reviewers: ["cfo@co.com"] });
 */
export async function requestRunApprovals(
  approvals: Approvals,
  result: PausedRun,
  options: RunApprovalOptions,
): Promise<Approval> {
  const { type = OPENAI_AGENTS_APPROVAL_TYPE, title, metadata = {}, db, ...request } = options;
  const calls = result.interruptions;
  const issues = [
    ...(calls.length === 0
      ? [{ path: "interruptions", message: "the run stopped at no tool call: nothing to ask" }]
      : []),
    ...(RUN_STATE_METADATA_KEY in metadata
      ? [{ path: `metadata.${RUN_STATE_METADATA_KEY}`, message: "is where the adapter keeps the run state" }]
      : []),
  ];
  if (issues.length > 0) throw new ValidationError("request for an OpenAI Agents run", issues);
  const actions = calls.map(actionOf);
  return approvals.requestApproval(
    {
      ...request,
      type,
      title: title ?? titleOf(calls),
      actions,
      // The string, not the parsed object: restored byte for byte (jsonb would reorder keys and refuse
      // a \u0000 a tool's output may hold).
      metadata: { ...metadata, [RUN_STATE_METADATA_KEY]: result.state.toString() },
      idempotencyKey: idempotencyKeyOf(actions.map((action) => action.id)),
    },
    { db },
  );
}

/** Options of {@link applyDecision}, {@link restoreRun} and {@link resumeOnDecision}. */
export interface ApplyDecisionOptions {
  /**
   * The text the model reads in place of a rejected call's output.
   * @defaultValue who rejected it and their reason (`cfo@co.com rejected this call: "…"`), or that
   * nobody approved it before the deadline, or that the request was cancelled
   */
  rejectionMessage?: (action: DecisionAction, decision: Decision) => string;
}

/**
 * Records a final decision on the run state: `state.approve(call)` for each approved action and
 * `state.reject(call, { message })` for each rejected one; then `run(agent, state)` resumes the run.
 * Give the approval (from `get()`) rather than its `Decision` to have rejection messages name who
 * rejected each call.
 *
 * The SDK cannot run a tool with arguments other than the model's, so an approved action with edits is
 * refused (a `ValidationError` naming it, and nothing is applied) rather than run as the model asked.
 * Batches made by {@link requestRunApprovals} have no editable fields, so reviewers cannot edit them.
 *
 * @example
 * applyDecision(result.state, await approvals.waitForDecision(approval.id));
 * result = await run(agent, result.state);
 */
export function applyDecision<TContext, TAgent extends AnyAgent>(
  state: RunState<TContext, TAgent>,
  decided: Decision | Approval,
  options: ApplyDecisionOptions = {},
): void {
  const approval = "steps" in decided ? decided : undefined;
  const decision = "steps" in decided ? decided.decision : decided;
  const what = "decision for an OpenAI Agents run";
  if (!decision?.actions) {
    const message = decision ? "is not a batch (it has no actions)" : "is still pending: apply it once decided";
    throw new ValidationError(what, [{ path: "", message: `approval ${decided.id} ${message}` }]);
  }
  const rejectedBy = new Map((approval?.actions ?? []).map((action) => [action.id, action.rejectedBy]));
  const actions = new Map(decision.actions.map((action) => [action.id, action]));
  const calls = state.getInterruptions().map((call) => ({ call, action: actions.get(callIdOf(call)) }));
  const called = new Set(calls.map(({ call }) => callIdOf(call)));
  const issues = [
    ...calls.flatMap(({ call, action }) =>
      action ? [] : [{ path: "actions", message: `has no action for the run's tool call ${callIdOf(call)}` }],
    ),
    ...decision.actions.flatMap((action) =>
      called.has(action.id) ? [] : [{ path: `actions.${action.id}`, message: "is not a tool call the run stopped at" }],
    ),
    ...decision.actions.flatMap((action) =>
      action.outcome === "approve" && action.edits.length > 0
        ? [
            {
              path: `actions.${action.id}.edits`,
              message: "were made, but the OpenAI Agents SDK runs a tool only with the model's own arguments",
            },
          ]
        : [],
    ),
  ];
  if (issues.length > 0) throw new ValidationError(what, issues);
  for (const { call, action } of calls) {
    if (!action) continue;
    if (action.outcome === "approve") state.approve(call);
    else
      state.reject(call, {
        message:
          options.rejectionMessage?.(action, decision) ?? rejectionMessage(action, decision, rejectedBy.get(action.id)),
      });
  }
}

/**
 * The run state kept with a decided approval, restored with `RunState.fromString(agent, …)` and with the
 * decision applied ({@link applyDecision}): pass it to `run(agent, state)`. Works in any process.
 *
 * @example
 * const result = await run(agent, await restoreRun(agent, await approvals.get(id)));
 */
export async function restoreRun<TContext = unknown, TAgent extends AnyAgent = AnyAgent>(
  agent: TAgent,
  approval: Approval,
  options: ApplyDecisionOptions = {},
): Promise<RunState<TContext, TAgent>> {
  const serialized = approval.metadata?.[RUN_STATE_METADATA_KEY];
  if (typeof serialized !== "string") {
    throw new ValidationError("OpenAI Agents run", [
      { path: `metadata.${RUN_STATE_METADATA_KEY}`, message: `approval ${approval.id} carries no run state` },
    ]);
  }
  const { RunState } = await import("@openai/agents");
  const state = await RunState.fromString<TContext, TAgent>(agent, serialized);
  applyDecision(state, approval, options);
  return state;
}

/** What a {@link resumeOnDecision} callback is given: the handler's context and the decision. */
export interface RunResumeContext extends ResumeContext {
  decision: Decision;
}

/** Options of {@link resumeOnDecision}. */
export interface ResumeOnDecisionOptions<TContext, TAgent extends AnyAgent> extends ApplyDecisionOptions {
  /** The agent the run started with (`RunState.fromString` needs it). */
  agent: TAgent;
  /** The approval type to resume. @defaultValue {@link OPENAI_AGENTS_APPROVAL_TYPE} */
  type?: string;
  /** The handler's name (see `onDecision`). @defaultValue the type */
  name?: string;
  /**
   * Resumes the run (a `Runner` of the host's, run options, a context).
   * @defaultValue `run(agent, state)` from `@openai/agents`
   */
  run?: (state: RunState<TContext, TAgent>, context: RunResumeContext) => Promise<RunResult<TContext, TAgent>>;
  /**
   * When the resumed run stops at more tool calls, ask about them with these options (and the same
   * type, so this handler resumes it again). @defaultValue not asked: see the result in `onResult`
   */
  request?: Omit<RunApprovalOptions, "type" | "db">;
  /** Called with the resumed run's result; `next` is the approval asked for under `request`, if any. */
  onResult?: (result: RunResult<TContext, TAgent>, context: RunResumeContext & { next: Approval | null }) => unknown;
}

/**
 * Resumes runs from the worker once their batch is decided, so no process waits: registers an
 * `onDecision` handler that restores the run state kept with the approval, applies the decision and
 * runs the agent. Register it before `approvals.start()`. The handler runs at least once: a worker
 * killed mid-run runs it again elsewhere, so give the tools' side effects their own idempotency key
 * (the call id, or `context.key`).
 *
 * @example
 * resumeOnDecision(approvals, { agent, onResult: (result) => console.log(result.finalOutput) });
 * await approvals.start();
 */
export function resumeOnDecision<TContext = unknown, TAgent extends AnyAgent = AnyAgent>(
  approvals: Approvals,
  options: ResumeOnDecisionOptions<TContext, TAgent>,
): void {
  const type = options.type ?? OPENAI_AGENTS_APPROVAL_TYPE;
  approvals.onDecision(
    type,
    async (decision, context) => {
      const resume: RunResumeContext = { ...context, decision };
      const state = await restoreRun<TContext, TAgent>(options.agent, { ...context.approval, decision }, options);
      const result = options.run ? await options.run(state, resume) : await runAgent(options.agent, state);
      const next =
        options.request && result.interruptions.length > 0
          ? await requestRunApprovals(approvals, result, { ...options.request, type })
          : null;
      await options.onResult?.(result, { ...resume, next });
    },
    options.name ? { name: options.name } : undefined,
  );
}

async function runAgent<TContext, TAgent extends AnyAgent>(
  agent: TAgent,
  state: RunState<TContext, TAgent>,
): Promise<RunResult<TContext, TAgent>> {
  const { run } = await import("@openai/agents");
  return run(agent, state);
}

/** The id the SDK records a call's approval under (RunContext's own rule): the call id, else the item id. */
function callIdOf(call: RunToolApprovalItem): string {
  const raw = call.rawItem;
  if ("callId" in raw) return raw.callId;
  const data: Record<string, unknown> = raw.providerData ?? {};
  const id = [data.id, data.itemId, raw.id].find((value) => typeof value === "string" && value.length > 0);
  return typeof id === "string" ? id : "";
}

function actionOf(call: RunToolApprovalItem): ActionRequest {
  const name = call.name ?? call.rawItem.type;
  const tool = call.agent.tools.find((candidate: { name: string }) => candidate.name === name);
  // The tool's own description tells the reviewer what the call does (countersign keeps 2,000 characters).
  const text = tool && "description" in tool && typeof tool.description === "string" ? tool.description : "";
  const description = text.length <= 2000 ? text : `${text.slice(0, 1999)}…`;
  return { id: callIdOf(call), name, input: inputOf(call), ...(description.trim() ? { description } : {}) };
}

/** The tool's arguments as the reviewer should see them: parsed JSON, else the model's text as it came. */
function inputOf(call: RunToolApprovalItem): JsonValue {
  const raw = call.rawItem;
  if (call.arguments !== undefined) {
    try {
      return JSON.parse(call.arguments) as JsonValue;
    } catch {
      return call.arguments;
    }
  }
  const value = "action" in raw ? raw.action : "operation" in raw ? raw.operation : null;
  return JSON.parse(JSON.stringify(value ?? null)) as JsonValue;
}

function titleOf(calls: RunToolApprovalItem[]): string {
  const agent = calls[0]?.agent.name ?? "The agent";
  const tools = [...new Set(calls.map((call) => call.name ?? call.rawItem.type))];
  const title =
    calls.length === 1
      ? `${agent} wants to call ${tools[0]}`
      : `${agent} wants to make ${calls.length} tool calls: ${tools.join(", ")}`;
  return title.length <= 500 ? title : `${title.slice(0, 499)}…`;
}

/** The same pause gives the same key whatever the order of its calls; a new pause has new call ids. */
function idempotencyKeyOf(callIds: string[]): string {
  const digest = createHash("sha256")
    .update(JSON.stringify([...callIds].sort()))
    .digest("base64url");
  return `openai-agents:${digest}`;
}

function rejectionMessage(action: DecisionAction, decision: Decision, by: string | null | undefined): string {
  const reason = action.comment ? `: "${action.comment}"` : ".";
  if (by) return `${by} rejected this call${reason}`;
  if (decision.status === "timed_out") return "Nobody approved this call before its deadline.";
  if (decision.status === "cancelled")
    return `The approval request was cancelled${decision.comment ? `: "${decision.comment}"` : "."}`;
  return `A reviewer rejected this call${reason}`;
}
