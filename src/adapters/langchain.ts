/**
 * `countersign/langchain`: langchain's `humanInTheLoopMiddleware` (approve, edit or reject each tool call)
 * decided through countersign. The middleware pauses the agent with one interrupt that lists the tool
 * calls; `requestInterruptApproval` turns it into one batch (an action per tool call, idempotent on the
 * thread and the interrupt), and `resumeValue` / `resumeCommand` turn the decision into the `{ decisions }`
 * the middleware resumes with. `resumeOnDecision` resumes the thread from the worker once the batch is
 * decided, from the agent's checkpoint (a `PostgresSaver`), so no process has to wait.
 *
 * A batch's actions are decided one by one, but the middleware acts on them together: when any tool call
 * is rejected it returns to the model with the rejections only, and the approved calls do not run in that
 * turn (the model may ask for them again, which is a new interrupt and a new batch).
 */
import { createHash } from "node:crypto";
import { Command } from "@langchain/langgraph";
import type { HITLRequest, HITLResponse, Decision as ToolCallDecision } from "langchain";
import { z } from "zod";
import {
  type ActionRequest,
  type Approval,
  type ApprovalRequest,
  type Approvals,
  type Decision,
  type DecisionAction,
  type JsonValue,
  ValidationError,
  type WriteOptions,
} from "../index.ts";

/** A LangGraph interrupt: `result.__interrupt__[0]`, or one of `getState(config).tasks[].interrupts`. */
export interface AgentInterrupt {
  id?: string;
  value?: unknown;
}

/** A human-in-the-loop interrupt of `humanInTheLoopMiddleware`, checked. */
export interface ToolCallInterrupt {
  id: string;
  value: HITLRequest;
}

/** Input of `requestInterruptApproval`: the approval's own fields, less what the interrupt supplies. */
export interface InterruptApprovalRequest
  extends Omit<ApprovalRequest, "title" | "payload" | "actions" | "editable" | "payloadSchema" | "idempotencyKey"> {
  /** The `thread_id` the agent runs under (its checkpoints' key). */
  threadId: string;
  /** The interrupt the agent paused with. */
  interrupt: AgentInterrupt;
  /** @defaultValue `Review 2 tool calls: send_email, pay` (the tools' names) */
  title?: string;
}

const MAX_KEY = 200;
const MAX_TITLE = 500;

const decisionType = z.enum(["approve", "edit", "reject"]);
const hitlRequest = z
  .object({
    actionRequests: z
      .array(
        z.object({
          name: z.string().min(1),
          args: z.record(z.string(), z.unknown()),
          description: z.string().optional(),
        }),
      )
      .min(1),
    reviewConfigs: z.array(
      z.object({
        actionName: z.string(),
        allowedDecisions: z.array(decisionType),
        argsSchema: z.record(z.string(), z.unknown()).optional(),
      }),
    ),
  })
  .superRefine((value, ctx) => {
    if (value.reviewConfigs.length !== value.actionRequests.length) {
      ctx.addIssue({ code: "custom", path: ["reviewConfigs"], message: "needs one entry per action request" });
    }
    value.reviewConfigs.forEach((config, index) => {
      // A countersign reviewer can always approve as asked and always reject (so can a timeout).
      const missing = (["approve", "reject"] as const).filter((type) => !config.allowedDecisions.includes(type));
      if (missing.length > 0) {
        ctx.addIssue({
          code: "custom",
          path: ["reviewConfigs", index, "allowedDecisions"],
          message: `allow ${missing.map((type) => `"${type}"`).join(" and ")} for ${config.actionName} in interruptOn: a countersign reviewer may approve as asked or reject, and a timeout rejects`,
        });
      }
    });
  });
const toolCallInterrupt = z.object({ id: z.string().min(1), value: hitlRequest });
const threadMetadata = z.object({ threadId: z.string().min(1), interruptId: z.string().min(1) });

/** Checks that `interrupt` is one of `humanInTheLoopMiddleware`'s; throws a `ValidationError` otherwise. */
function parseInterrupt(interrupt: AgentInterrupt): ToolCallInterrupt {
  const parsed = toolCallInterrupt.safeParse(interrupt);
  if (parsed.success) return parsed.data as ToolCallInterrupt;
  throw new ValidationError(
    "interrupt (expected one of humanInTheLoopMiddleware's: { id, value: { actionRequests, reviewConfigs } })",
    parsed.error.issues.map((issue) => ({ path: issue.path.join("."), message: issue.message })),
  );
}

/** One key per thread and interrupt; hashed when the thread id would make it longer than a key may be. */
function idempotencyKey(threadId: string, interruptId: string): string {
  const plain = `langchain:${threadId}:${interruptId}`;
  if (plain.length <= MAX_KEY) return plain;
  return `langchain:sha256:${createHash("sha256").update(`${threadId}\0${interruptId}`).digest("hex")}`;
}

function defaultTitle(value: HITLRequest): string {
  const names = value.actionRequests.map((action) => action.name);
  const title =
    names.length === 1 ? `Review a tool call: ${names[0]}` : `Review ${names.length} tool calls: ${names.join(", ")}`;
  return title.length <= MAX_TITLE ? title : `${title.slice(0, MAX_TITLE - 1)}…`;
}

/**
 * The batch of actions for an interrupt, one per tool call in the interrupt's order. The middleware's
 * action requests carry no tool call id, so each action's id is its position (`call-1`, `call-2`, …):
 * stable for the interrupt, which is all the resume needs, since the middleware matches decisions to tool
 * calls by position. Every top-level argument is editable when the tool allows "edit", and a reviewer's
 * edit must satisfy the tool's `argsSchema` when its `interruptOn` entry gives one.
 */
function interruptActions(interrupt: AgentInterrupt): ActionRequest[] {
  const { value } = parseInterrupt(interrupt);
  return value.actionRequests.map((action, index) => {
    const config = value.reviewConfigs[index];
    return {
      id: `call-${index + 1}`,
      name: action.name,
      input: action.args as Record<string, JsonValue>,
      editable: config?.allowedDecisions.includes("edit") ? Object.keys(action.args) : [],
      ...(action.description === undefined ? {} : { description: action.description }),
      ...(config?.argsSchema === undefined ? {} : { inputSchema: config.argsSchema }),
    };
  });
}

/**
 * Asks for a review of the tool calls `humanInTheLoopMiddleware` paused the agent on: one batch, an
 * action per tool call. Idempotent on the thread and the interrupt (`idempotencyKey` is
 * `langchain:<threadId>:<interrupt id>`), so asking again after a restart returns the same approval. The
 * approval's `metadata` holds `threadId` and `interruptId` (beside any `metadata` you give), which is what
 * `resumeOnDecision` resumes. Throws a `ValidationError` for an interrupt that is not the middleware's, or
 * a tool whose `allowedDecisions` lack "approve" or "reject".
 *
 * @example
 * ```ts
 * const config = { configurable: { thread_id: threadId } };
 * const result = await agent.invoke({ messages: [{ role: "user", content: "Email the board" }] }, config);
 * const interrupt = result.__interrupt__?.[0];
 * if (interrupt) {
 *   await requestInterruptApproval(approvals, {
 *     type: "agent.tool_calls.v1",
 *     threadId,
 *     interrupt,
 *     requestedBy: "agent://finance/report-writer",
 *     reviewers: ["cfo@company.com"],
 *   });
 * }
 * ```
 */
export async function requestInterruptApproval(
  approvals: Approvals,
  request: InterruptApprovalRequest,
  options?: WriteOptions,
): Promise<Approval> {
  const { threadId, interrupt: graphInterrupt, title, metadata, ...rest } = request;
  const interrupt = parseInterrupt(graphInterrupt);
  if (typeof threadId !== "string" || threadId.length === 0) {
    throw new ValidationError("requestInterruptApproval input", [
      { path: "threadId", message: "must be the thread_id" },
    ]);
  }
  return approvals.requestApproval(
    {
      ...rest,
      title: title ?? defaultTitle(interrupt.value),
      actions: interruptActions(interrupt),
      idempotencyKey: idempotencyKey(threadId, interrupt.id),
      metadata: { ...metadata, threadId, interruptId: interrupt.id },
    },
    options,
  );
}

/** Why a tool call did not run, in words the model reads when the reviewer gave no reason. */
function notRun(decision: Decision): string {
  if (decision.status === "timed_out") return "No reviewer decided in time, so this tool call was not run.";
  if (decision.status === "cancelled") return "The review was cancelled, so this tool call was not run.";
  return `${decision.decidedBy ?? "The reviewer"} rejected this tool call, so it was not run.`;
}

function toolCallDecision(action: DecisionAction, decision: Decision): ToolCallDecision {
  if (action.outcome === "reject") {
    return { type: "reject", message: action.comment ?? decision.comment ?? notRun(decision) };
  }
  if (action.edits.length === 0) return { type: "approve" };
  return { type: "edit", editedAction: { name: action.name, args: action.input as Record<string, JsonValue> } };
}

/**
 * The value `humanInTheLoopMiddleware` resumes with, from a batch's decision: a decision per tool call,
 * in the interrupt's order. An approved call is `{ type: "approve" }`, or `{ type: "edit", editedAction }`
 * with the edited arguments when a reviewer changed any; a rejected one (by a reviewer, a timeout or a
 * cancellation) is `{ type: "reject", message }` with the reviewer's reason, which the model reads.
 *
 * @example
 * ```ts
 * const decision = await approvals.waitForDecision(approval.id);
 * await agent.invoke(new Command({ resume: resumeValue(decision) }), { configurable: { thread_id } });
 * ```
 */
export function resumeValue(decision: Decision): HITLResponse {
  if (!decision.actions) {
    throw new ValidationError("decision", [
      { path: "actions", message: "is not a batch: resume the agent with the decision of requestInterruptApproval" },
    ]);
  }
  return { decisions: decision.actions.map((action) => toolCallDecision(action, decision)) };
}

/**
 * `new Command({ resume })` for the decision. With `interruptId` (the approval's `metadata.interruptId`)
 * the resume names the interrupt it answers, as LangGraph requires when a thread waits on several.
 *
 * @example
 * ```ts
 * const decision = await approvals.waitForDecision(approval.id);
 * await agent.invoke(resumeCommand(decision), { configurable: { thread_id } });
 * ```
 */
export function resumeCommand(decision: Decision, options: { interruptId?: string } = {}): Command {
  const value = resumeValue(decision);
  return new Command({ resume: options.interruptId ? { [options.interruptId]: value } : value });
}

/** What `resumeOnDecision` needs of an agent: a `createAgent` result or any compiled graph. */
export interface ResumableAgent<Result = unknown> {
  invoke(input: Command, config: { configurable: { thread_id: string } }): Promise<Result>;
  getState(config: { configurable: { thread_id: string } }): Promise<{
    tasks: ReadonlyArray<{ interrupts: ReadonlyArray<AgentInterrupt> }>;
  }>;
}

/** Given to `onResumed` once a decided thread has been resumed. */
export interface ResumedThread<Result> {
  threadId: string;
  decision: Decision;
  approval: Approval;
  /** What the resumed run returned; undefined when an earlier run of the handler had resumed it already. */
  result: Result | undefined;
  /** The next tool calls the thread waits on, when the resumed run paused again. */
  interrupt: ToolCallInterrupt | undefined;
}

/** Options of `resumeOnDecision`. */
export interface ResumeOnDecisionOptions<Result> {
  /** The approval type given to `requestInterruptApproval`. */
  type: string;
  /** Built with a checkpointer every process shares (`PostgresSaver`), so any worker can resume it. */
  agent: ResumableAgent<Result>;
  /** The handler's name (see `onDecision`). @defaultValue `type` */
  name?: string;
  /** Runs after each resume, say to ask for the next interrupt's review. Runs at least once, like the handler. */
  onResumed?(thread: ResumedThread<Result>): Promise<void> | void;
}

/**
 * The human-in-the-loop interrupt `threadId` waits on, read from the agent's checkpoint; undefined when the
 * thread waits on none (never started, finished, or paused on an interrupt that is not the middleware's).
 *
 * @example
 * ```ts
 * const interrupt = await pendingInterrupt(agent, threadId); // after a restart: is it still waiting?
 * ```
 */
export async function pendingInterrupt(
  agent: Pick<ResumableAgent, "getState">,
  threadId: string,
): Promise<ToolCallInterrupt | undefined> {
  const state = await agent.getState({ configurable: { thread_id: threadId } });
  for (const interrupt of state.tasks.flatMap((task) => task.interrupts)) {
    const parsed = toolCallInterrupt.safeParse(interrupt);
    if (parsed.success) return parsed.data as ToolCallInterrupt;
  }
  return undefined;
}

/**
 * Resumes each thread paused by `humanInTheLoopMiddleware` in the worker, once its batch (of `type`) is
 * decided: `approvals.onDecision(type, …)` reads the thread from the approval's `metadata` and invokes the
 * agent with the decision's `Command({ resume })`. The agent's checkpointer holds the thread, so the
 * process that asked may be long gone. A handler that runs again (its worker died mid-run) finds the
 * thread no longer waiting on that interrupt and does not resume it twice. Register before
 * `approvals.start()`, once per type, and resume a thread this way only: a process that also waits for
 * the decision and resumes the thread itself would run its tools twice.
 *
 * @example
 * ```ts
 * const checkpointer = PostgresSaver.fromConnString(process.env.DATABASE_URL);
 * const agent = createAgent({ model, tools, checkpointer, middleware: [humanInTheLoopMiddleware({ interruptOn })] });
 * resumeOnDecision(approvals, { type: "agent.tool_calls.v1", agent });
 * await approvals.start();
 * ```
 */
export function resumeOnDecision<Result>(approvals: Approvals, options: ResumeOnDecisionOptions<Result>): void {
  const { type, agent, onResumed } = options;
  approvals.onDecision(
    type,
    async (decision, { approval }) => {
      const parsed = threadMetadata.safeParse(approval.metadata);
      if (!parsed.success) {
        throw new ValidationError(`approval ${approval.id}`, [
          { path: "metadata", message: "has no threadId and interruptId: request it with requestInterruptApproval" },
        ]);
      }
      const { threadId, interruptId } = parsed.data;
      const config = { configurable: { thread_id: threadId } };
      const state = await agent.getState(config);
      const waiting = state.tasks.some((task) => task.interrupts.some((interrupt) => interrupt.id === interruptId));
      const result = waiting ? await agent.invoke(resumeCommand(decision, { interruptId }), config) : undefined;
      if (onResumed) {
        await onResumed({ threadId, decision, approval, result, interrupt: await pendingInterrupt(agent, threadId) });
      }
    },
    { name: options.name ?? type },
  );
}
