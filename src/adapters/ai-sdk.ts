/**
 * `countersign/ai-sdk`: the Vercel AI SDK's tool approval (v7), made durable. The SDK pauses on its own:
 * `generateText` / `streamText` with `toolApproval` return `tool-approval-request` parts instead of running
 * the tools. {@link requestToolApprovals} turns those requests into ONE countersign batch (one action per
 * tool call, decided one by one in one review); {@link toolApprovalMessage} turns the decision back into the
 * `tool` message of `tool-approval-response` parts that the next `generateText` call acts on.
 *
 * Only types come from `ai` (an optional peer dependency): nothing here loads it at run time.
 */
import { createHash } from "node:crypto";
import type { ContentPart, ToolApprovalRequestOutput, ToolApprovalResponse, ToolModelMessage, ToolSet } from "ai";
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

/** The approval type {@link requestToolApprovals} gives its batches unless told otherwise. */
export const AI_SDK_TOOL_CALLS_TYPE = "ai-sdk.tool_calls.v1";

const DEFAULT_REQUESTER = "agent://ai-sdk";
/** The request's title is at most 500 characters; the list of tool names stops well before. */
const TITLE_NAMES_BUDGET = 400;

/** Why reviewers cannot edit a tool call's input here; the same words in the type, the docs and the errors. */
const EDITS_UNSUPPORTED =
  "the AI SDK cannot run a tool with edited input: a tool-approval-response carries only approvalId, approved " +
  "and reason, and the SDK runs the tool call's input from the message history (re-validated against the " +
  "tool's schema, and bound to the approval by experimental_toolApprovalSecret). Approve or reject each call; " +
  "to change an input, reject with a reason and let the model call the tool again";

/** A `generateText` result, or a `streamText` result (whose `content` is a promise). */
export interface ToolApprovalSource<TOOLS extends ToolSet = ToolSet> {
  readonly content: ReadonlyArray<ContentPart<TOOLS>> | PromiseLike<ReadonlyArray<ContentPart<TOOLS>>>;
}

/**
 * Options of {@link requestToolApprovals}: who reviews (`reviewers` or `steps`) and the rest of a
 * countersign request, except what the adapter derives from the tool calls (`actions`, `idempotencyKey`).
 */
export interface ToolApprovalsOptions
  extends Pick<
      ApprovalRequest,
      | "reviewers"
      | "steps"
      | "escalation"
      | "reminders"
      | "escalateAfter"
      | "timeout"
      | "warnBefore"
      | "distinctAcrossSteps"
      | "metadata"
    >,
    WriteOptions {
  /** @defaultValue {@link AI_SDK_TOOL_CALLS_TYPE} (`"ai-sdk.tool_calls.v1"`): register `onDecision` on it */
  type?: string;
  /** @defaultValue `"Agent wants to run <tool names>"`, e.g. `"Agent wants to run refundOrder, sendEmail"` */
  title?: string;
  /** Who asks. @defaultValue `"agent://ai-sdk"` */
  requestedBy?: string;
  /**
   * Refused: reviewers cannot edit a tool call's input through the AI SDK (v7). Its `tool-approval-response`
   * has no field for an input, and the SDK executes the input recorded in the message history, so an edit
   * would be shown as approved and then silently not applied. Reject with a reason instead: the model reads
   * it and may call the tool again with a new input, which asks again.
   */
  editable?: never;
}

/**
 * Asks for a person's approval of the tool calls an AI SDK call stopped at: every `tool-approval-request`
 * part of `result.content` (automatic ones, which the SDK's `toolApproval` already approved or denied, are
 * skipped) becomes one action of ONE batch: action id = the SDK's `approvalId`, name = the tool's name,
 * input = the tool's input, description = the `reason` your `toolApproval` gave, if any. Reviewers approve
 * or reject each action; edits are not offered (see {@link ToolApprovalsOptions.editable}).
 *
 * Idempotent: the idempotency key is derived from the SDK's approval ids (`ai-sdk:` + SHA-256 of the sorted
 * ids), so calling it again for the same result (a retry, a process that resumed from saved messages)
 * returns the same approval. Keep `messages` (the conversation so far, plain JSON) in `metadata` when the
 * agent should resume from an `onDecision` handler in another process.
 *
 * Throws a `ValidationError` when the result has no approval request that needs a person (check
 * `result.content.some((part) => part.type === "tool-approval-request" && !part.isAutomatic)` first), when
 * one is for a provider-executed tool (its response must reach the provider, which a countersign decision
 * does not record), or when `editable` is given.
 *
 * @example
 * const result = await generateText({ model, tools, toolApproval: { refundOrder: "user-approval" }, messages });
 * const approval = await requestToolApprovals(approvals, result, { reviewers: ["billing-lead@company.com"] });
 * messages.push(...result.responseMessages, toolApprovalMessage(await approvals.waitForDecision(approval.id)));
 * const next = await generateText({ model, tools, toolApproval: { refundOrder: "user-approval" }, messages });
 */
export async function requestToolApprovals<TOOLS extends ToolSet>(
  approvals: Pick<Approvals, "requestApproval">,
  result: ToolApprovalSource<TOOLS>,
  options: ToolApprovalsOptions,
): Promise<Approval> {
  const { type, title, requestedBy, db, editable, ...request } = options;
  if (editable !== undefined) {
    throw new ValidationError("requestToolApprovals options", [{ path: "editable", message: EDITS_UNSUPPORTED }]);
  }
  const requests = (await result.content).filter(
    (part): part is ToolApprovalRequestOutput<TOOLS> => part.type === "tool-approval-request" && !part.isAutomatic,
  );
  if (requests.length === 0) {
    throw new ValidationError("requestToolApprovals input", [
      {
        path: "result.content",
        message:
          "has no tool-approval-request that needs a person (none, or only automatic ones): pass the result of a " +
          'generateText or streamText call whose toolApproval answered "user-approval" for a tool call',
      },
    ]);
  }
  const providerExecuted = requests.filter((part) => part.toolCall.providerExecuted);
  if (providerExecuted.length > 0) {
    throw new ValidationError(
      "requestToolApprovals input",
      providerExecuted.map((part) => ({
        path: `result.content.${part.approvalId}`,
        message: `asks to approve ${part.toolCall.toolName}, a provider-executed tool: not supported, since its approval response must be forwarded to the provider`,
      })),
    );
  }
  const actions: ActionRequest[] = requests.map(({ approvalId, toolCall, reason }) => ({
    id: approvalId,
    name: toolCall.toolName,
    // Parsed from the model's JSON, so plain JSON; countersign refuses anything else with a ValidationError.
    input: toolCall.input as JsonValue,
    ...(reason ? { description: reason } : {}),
  }));
  return approvals.requestApproval(
    {
      ...request,
      type: type ?? AI_SDK_TOOL_CALLS_TYPE,
      title: title ?? defaultTitle(actions.map((action) => action.name)),
      requestedBy: requestedBy ?? DEFAULT_REQUESTER,
      actions,
      idempotencyKey: idempotencyKey(actions.map((action) => action.id)),
    },
    { db },
  );
}

/**
 * The AI SDK message that carries a countersign batch decision back to the agent: a `tool` message with
 * one `tool-approval-response` per action, `approved` from the action's outcome and `reason` from the
 * reviewer's comment. Push it after the `responseMessages` of the call that asked, and call `generateText`
 * again: the SDK runs the approved tools and sends the model an `execution-denied` result with the reason
 * for each rejected one. A batch that timed out or was cancelled answers every action `approved: false`
 * (unless its timeout action approves) with a reason saying so.
 *
 * Throws an {@link EditedToolInputError} when an approved action carries edits (possible only for a batch
 * made without this adapter, with `editable` actions): the SDK would run the unedited input, so the
 * decision is refused rather than half applied. Throws a `ValidationError` for a decision that is not a batch.
 *
 * @example
 * approvals.onDecision("ai-sdk.tool_calls.v1", async (decision, { approval }) => {
 *   const messages = approval.metadata?.messages as unknown as ModelMessage[];
 *   await generateText({ model, tools, toolApproval, messages: [...messages, toolApprovalMessage(decision)] });
 * });
 */
export function toolApprovalMessage(decision: Decision): ToolModelMessage {
  if (!decision.actions) {
    throw new ValidationError("toolApprovalMessage input", [
      {
        path: "decision.actions",
        message: `is null: approval ${decision.id} is not a batch; pass the decision of an approval made by requestToolApprovals`,
      },
    ]);
  }
  const edited = decision.actions.filter((action) => action.outcome === "approve" && action.edits.length > 0);
  if (edited.length > 0) throw new EditedToolInputError(decision.id, edited);
  return {
    role: "tool",
    content: decision.actions.map((action) => approvalResponse(decision, action)),
  };
}

/**
 * A decision approved a tool call with an edited input, which the AI SDK cannot carry to the tool (see
 * {@link ToolApprovalsOptions.editable}). Nothing ran. `code` is `VALIDATION`; `issues` name each action.
 */
export class EditedToolInputError extends ValidationError {
  /** The countersign approval whose decision was refused. */
  readonly approvalId: string;
  /** The actions (the SDK's approval ids) approved with edits. */
  readonly actionIds: string[];

  constructor(approvalId: string, actions: DecisionAction[]) {
    super(
      `decision of approval ${approvalId} for the AI SDK`,
      actions.map((action) => ({
        path: `actions.${action.id}.edits`,
        message: `${action.name} was approved with edits (${action.edits.map((edit) => edit.field).join(", ")}), but ${EDITS_UNSUPPORTED}`,
      })),
    );
    this.approvalId = approvalId;
    this.actionIds = actions.map((action) => action.id);
  }
}

function approvalResponse(decision: Decision, action: DecisionAction): ToolApprovalResponse {
  const approved = action.outcome === "approve";
  return {
    type: "tool-approval-response",
    approvalId: action.id,
    approved,
    reason: reasonFor(decision, approved, action),
  };
}

/**
 * What the model reads for a denied call (an approved call's reason only stays in the history): the
 * reviewer's comment on this action, else, when denied, the decision's (a reject-all's or a cancel's
 * reason), else what happened.
 */
function reasonFor(decision: Decision, approved: boolean, action: DecisionAction): string {
  const comment = approved ? action.comment : (action.comment ?? decision.comment);
  if (comment) return comment;
  switch (decision.status) {
    case "timed_out":
      return `No reviewer decided in time: the approval timed out, and its timeout ${approved ? "approves" : "rejects"} the call.`;
    case "cancelled":
      return "The approval was cancelled.";
    default:
      return `${approved ? "Approved" : "Rejected"} by ${decision.decidedBy ?? "a reviewer"}.`;
  }
}

function defaultTitle(names: string[]): string {
  const unique = [...new Set(names)];
  let listed = 0;
  let length = 0;
  for (const name of unique) {
    if (listed > 0 && length + name.length > TITLE_NAMES_BUDGET) break;
    length += name.length + 2;
    listed += 1;
  }
  const more = unique.length - listed;
  return `Agent wants to run ${unique.slice(0, listed).join(", ")}${more > 0 ? ` and ${more} more` : ""}`;
}

function idempotencyKey(approvalIds: string[]): string {
  const digest = createHash("sha256");
  for (const id of [...approvalIds].sort()) digest.update(`${id}\n`);
  return `ai-sdk:${digest.digest("hex")}`;
}
