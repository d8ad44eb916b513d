/**
 * Batches: several actions (an agent's tool calls) put to the reviewers as one approval, each decided on
 * its own. The inputs live in the payload (`{ actions: [{ id, name, input }] }`), so edits to an action
 * make payload revisions like any other edit; what was requested of each action (name, description,
 * editable fields) is fixed at request time.
 *
 * The rules: a reviewer decides every action still open in one vote. An action rejected by anyone is
 * rejected for good; every other open action was approved by every approving vote, so counting approving
 * votes per step (the quorum) counts each open action's approvals too. A vote that rejects every open
 * action rejects the approval (nothing may run); otherwise it is an approving vote. The approval ends
 * `approved` when at least one action may run.
 */
import { editPayload, type EditResult } from "./revision.ts";
import type {
  ActionVote,
  ApprovalAction,
  BatchAction,
  DecisionAction,
  FinalStatus,
  JsonValue,
  PayloadEdit,
  TimeoutAction,
  VoteOutcome,
} from "./types.ts";

/** What a reviewer sent for one action. */
export interface ActionDecision {
  outcome: VoteOutcome;
  edits: Record<string, JsonValue> | null;
  comment: string | null;
}

/** The payload of a batch: the part of it that revisions cover. */
export function batchPayload(actions: readonly { id: string; name: string; input: JsonValue }[]): JsonValue {
  return { actions: actions.map(({ id, name, input }) => ({ id, name, input })) };
}

/** Each action's current input, by id. */
export function actionInputs(payload: JsonValue): Map<string, JsonValue> {
  const inputs = new Map<string, JsonValue>();
  const list = payload !== null && typeof payload === "object" && !Array.isArray(payload) ? payload.actions : null;
  if (!Array.isArray(list)) return inputs;
  for (const item of list) {
    if (item !== null && typeof item === "object" && !Array.isArray(item) && typeof item.id === "string") {
      inputs.set(item.id, (item.input ?? null) as JsonValue);
    }
  }
  return inputs;
}

/** Rejections so far, by action id: the first reviewer who rejected it and why. */
export function rejections(
  votes: readonly { reviewer: string; actions: Record<string, ActionVote> | null }[],
): Map<string, { by: string; comment: string | null }> {
  const rejected = new Map<string, { by: string; comment: string | null }>();
  for (const vote of votes) {
    for (const [id, decision] of Object.entries(vote.actions ?? {})) {
      if (decision.outcome === "reject" && !rejected.has(id)) {
        rejected.set(id, { by: vote.reviewer, comment: decision.comment });
      }
    }
  }
  return rejected;
}

/** Why a batch vote is refused, as the issues a ValidationError lists. */
export type BatchIssue = { path: string; message: string };

export interface BatchVote {
  /** The vote's outcome on the approval: approve unless every open action was rejected. */
  outcome: VoteOutcome;
  /** What the vote decided, per open action. */
  actions: Record<string, ActionVote>;
  /** The payload with the approved actions' edits, or unchanged. */
  edited: Extract<EditResult, { ok: true }>;
}

/**
 * Judges a reviewer's decisions on a batch: every open action decided once, edits only to an approved
 * action's editable fields. `decisions` null means the whole-batch outcome given (approve all / reject all).
 */
export function planBatchVote(
  batch: readonly BatchAction[],
  payload: JsonValue,
  rejected: ReadonlyMap<string, unknown>,
  whole: { outcome: VoteOutcome | null; comment: string | null },
  decisions: Record<string, ActionDecision> | null,
): BatchVote | { issues: BatchIssue[] } {
  const open = batch.filter((action) => !rejected.has(action.id));
  const issues: BatchIssue[] = [];
  if (decisions === null) {
    const { outcome, comment } = whole;
    if (outcome === null) return { issues: [{ path: "actions", message: "decide each action, or give an outcome" }] };
    // Approve all / reject all: the vote's comment is each action's reason too.
    decisions = Object.fromEntries(open.map((a) => [a.id, { outcome, edits: null, comment }]));
  }
  for (const id of Object.keys(decisions)) {
    if (!batch.some((action) => action.id === id)) {
      issues.push({ path: `actions.${id}`, message: `is not an action of this batch (${listIds(batch)})` });
    }
  }
  const missing = open.filter((action) => !decisions[action.id]);
  if (missing.length > 0) {
    issues.push({ path: "actions", message: `decide every open action in one vote; missing: ${listIds(missing)}` });
  }
  const actions: Record<string, ActionVote> = {};
  const changes: Record<string, Record<string, JsonValue>> = {};
  for (const action of open) {
    const decision = decisions[action.id];
    if (!decision) continue;
    actions[action.id] = { outcome: decision.outcome, comment: decision.comment };
    const edits = decision.edits && Object.keys(decision.edits).length > 0 ? decision.edits : null;
    if (!edits) continue;
    if (decision.outcome !== "approve") {
      issues.push({ path: `actions.${action.id}.edits`, message: "only an approved action can carry edits" });
      continue;
    }
    const refused = Object.keys(edits).find((field) => !action.editable.includes(field));
    if (refused !== undefined) {
      issues.push({
        path: `actions.${action.id}.edits.${refused}`,
        message:
          action.editable.length > 0
            ? `may not be changed; editable fields of ${action.id}: ${action.editable.join(", ")}`
            : `may not be changed: the request made no field of ${action.id} editable`,
      });
      continue;
    }
    changes[action.id] = edits;
  }
  if (issues.length > 0) return { issues };
  const edited = editBatch(payload, batch, changes);
  if (!edited.ok)
    return { issues: [{ path: `actions.${edited.field}`, message: "has an input that is not an object" }] };
  const approves = Object.values(actions).some((a) => a.outcome === "approve");
  return { outcome: approves ? "approve" : "reject", actions, edited };
}

const listIds = (actions: readonly { id: string }[]) => actions.map((a) => a.id).join(", ");

/** The batch payload with each action's edits applied; edits name their action. */
function editBatch(
  payload: JsonValue,
  batch: readonly BatchAction[],
  changes: Record<string, Record<string, JsonValue>>,
): EditResult {
  const inputs = actionInputs(payload);
  const edits: Extract<EditResult, { ok: true }>["edits"] = [];
  const next = batch.map((action) => {
    const input = inputs.get(action.id) ?? null;
    const change = changes[action.id];
    if (!change) return { id: action.id, name: action.name, input };
    const result = editPayload(input, action.editable, change);
    if (!result.ok) return { id: action.id, name: action.name, input, refused: true };
    edits.push(...result.edits.map((edit) => ({ ...edit, action: action.id })));
    return { id: action.id, name: action.name, input: result.payload };
  });
  const refused = next.find((item) => "refused" in item);
  if (refused) return { ok: false, field: refused.id, editable: [] };
  return { ok: true, payload: edits.length > 0 ? batchPayload(next) : payload, edits };
}

interface BatchState {
  batch: readonly BatchAction[];
  payload: JsonValue;
  edits: readonly PayloadEdit[];
  votes: readonly { reviewer: string; actions: Record<string, ActionVote> | null }[];
  status: FinalStatus | "pending";
  timeoutAction: TimeoutAction;
}

/** Each action as it stands: rejected by a reviewer, still pending, or settled by the approval's end. */
export function actionsOf(state: BatchState): ApprovalAction[] {
  const inputs = actionInputs(state.payload);
  const rejected = rejections(state.votes);
  const runs = state.status === "approved" || (state.status === "timed_out" && state.timeoutAction === "approve");
  return state.batch.map((action) => {
    const rejection = rejected.get(action.id);
    const outcome = rejection ? "reject" : state.status === "pending" ? "pending" : runs ? "approve" : "reject";
    return {
      id: action.id,
      name: action.name,
      description: action.description,
      input: inputs.get(action.id) ?? null,
      editable: action.editable,
      ...(action.inputSchema !== undefined ? { inputSchema: action.inputSchema } : {}),
      outcome,
      comment: rejection?.comment ?? null,
      rejectedBy: rejection?.by ?? null,
      edits: state.edits.filter((edit) => edit.action === action.id),
    };
  });
}

/** The decision's word on each action, once the approval is final. */
export function decisionActions(actions: readonly ApprovalAction[], finalComment: string | null): DecisionAction[] {
  return actions.map((action) => ({
    id: action.id,
    name: action.name,
    outcome: action.outcome === "approve" ? "approve" : "reject",
    input: action.input,
    edits: action.edits,
    // An action the whole approval took down (a timeout, a cancel) carries that reason.
    comment: action.rejectedBy !== null || action.outcome === "approve" ? action.comment : finalComment,
  }));
}
