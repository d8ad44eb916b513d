/**
 * The narrow port the HTTP layer reaches the engine through: open a reviewer's link, view an approval as
 * that reviewer, decide through a link and get the updated view back, record a sighting of an inbound
 * request, ping the database. HTTP never touches the store.
 */
import { sql } from "kysely";
import type { ChannelActions } from "../channels/channel.ts";
import { type Ineligibility, mayVote } from "../domain/eligibility.ts";
import type { Approval, AuditEvent, EventType, JsonValue, VoteOutcome } from "../domain/types.ts";
import { actionFields, editableFields, editsFromForm } from "../domain/editable.ts";
import { NotFoundError, ValidationError } from "../errors.ts";
import { hashToken, isWellFormedToken, tokenMatches } from "../security/tokens.ts";
import { type FactsRead, loadApproval, readAsReviewer } from "../store/approval-reads.ts";
import { toApproval } from "../store/rows.ts";
import { firstSighting, listEvents } from "../store/event-store.ts";
import { parseInput } from "../validation.ts";
import type { EngineContext } from "./context.ts";
import { decide, decideOnFacts } from "./engine.ts";
import { readLink } from "./link-reads.ts";
import { approvalId as approvalIdSchema, decideSchema } from "./inputs.ts";

/** An approval as one reviewer sees it. */
export interface ReviewerView {
  approval: Approval;
  reviewer: string;
  /** Why this reviewer cannot decide now; undefined when they can. */
  ineligibility: Ineligibility | undefined;
  /** The audit events of the types asked for, oldest first (empty unless asked). */
  history: AuditEvent[];
}

interface ViewOptions {
  /** Event types to include as history. */
  history?: readonly EventType[];
  /** For `open`: record that the reviewer opened the page (once per step), with this user agent. */
  sighting?: { userAgent: string };
}

interface ReviewerDecision {
  /** Absent only when a batch is decided action by action. */
  outcome?: VoteOutcome;
  /** A batch, as JSON: the decision on each open action by id (validated as `decide` validates it). */
  actions?: Record<string, unknown>;
  /** A batch, as a form typed it: each action's outcome, reason and edits as text. */
  formActions?: Record<string, { outcome?: string; comment?: string; edits: Record<string, string> }>;
  comment?: string;
  via: string;
  context?: Record<string, JsonValue>;
  /** The payload revision the reviewer was shown. */
  revision?: number;
  edits?: Record<string, JsonValue>;
  /** Edits as a form typed them (`amount` → "45000"): read as each field's type. */
  formEdits?: Record<string, string>;
}

/** A decision through a link: the view after it, or, when it was refused, the error and the view as it stands. */
interface LinkDecision {
  view: ReviewerView;
  refused?: unknown;
}

export interface ReviewerPort {
  /**
   * The reviewer's view through a link's token, in one read (the page's path); undefined for a malformed,
   * unknown or expired token alike.
   */
  open(token: string, options?: ViewOptions): Promise<ReviewerView | undefined>;
  view(approvalId: string, reviewer: string, options?: ViewOptions): Promise<ReviewerView>;
  /**
   * Decides as the link's reviewer: the token and its approval are read in one statement, `toDecision`
   * makes the decision from the approval as read (a batch form names actions by position), and the engine
   * plans on that same read. Undefined for a link `open` would refuse; any error after the link was found
   * comes back as `refused`, with the approval as it now stands.
   */
  decideByLink(
    token: string,
    toDecision: (approval: Approval) => ReviewerDecision,
    options?: ViewOptions,
  ): Promise<LinkDecision | undefined>;
  /** What a channel's inbound route may do (decisions are recorded with `via` = the channel's name). */
  channelActions(channel: string): ChannelActions;
  /** Resolves when the database answers. */
  ping(): Promise<void>;
}

/** A form's edits as JSON values of each field's type; a ValidationError names every field that is not. */
function typedEdits(approval: Approval, submitted: Record<string, string>): Record<string, JsonValue> {
  const { edits, errors } = editsFromForm(editableFields(approval), submitted);
  if (errors.length > 0) {
    throw new ValidationError(
      "edits",
      errors.map(({ field, error }) => ({ path: `edits.${field}`, message: error })),
    );
  }
  return edits;
}

/** A batch form's decisions with each approved action's edits read as its fields' types. */
function typedActions(
  approval: Approval,
  submitted: NonNullable<ReviewerDecision["formActions"]>,
): Record<string, unknown> {
  const errors: { path: string; message: string }[] = [];
  const actions = Object.fromEntries(
    (approval.actions ?? []).flatMap((action) => {
      const sent = submitted[action.id];
      // An action left without a choice is left out, so the engine names every one that is missing.
      if (!sent?.outcome) return [];
      const fields = actionFields(action);
      const parsed = sent.outcome === "approve" ? editsFromForm(fields, sent.edits) : { edits: {}, errors: [] };
      errors.push(...parsed.errors.map((e) => ({ path: `actions.${action.id}.edits.${e.field}`, message: e.error })));
      const edits = Object.keys(parsed.edits).length > 0 ? { edits: parsed.edits } : {};
      return [[action.id, { outcome: sent.outcome, ...(sent.comment ? { comment: sent.comment } : {}), ...edits }]];
    }),
  );
  if (errors.length > 0) throw new ValidationError("decisions", errors);
  return actions;
}

export function createReviewerPort(ctx: EngineContext): ReviewerPort {
  const { database } = ctx;

  const get = async (approvalId: string): Promise<Approval> => {
    parseInput(approvalIdSchema, approvalId, "approval id");
    const approval = await database.run((db) => loadApproval(db, approvalId));
    if (!approval) throw new NotFoundError(`Approval ${approvalId}`, { approvalId });
    return approval;
  };

  const viewOf = async (approval: Approval, reviewer: string, options: ViewOptions): Promise<ReviewerView> => ({
    approval,
    reviewer,
    ineligibility: mayVote(approval, reviewer),
    history: options.history ? await database.run((db) => listEvents(db, approval.id, options.history)) : [],
  });

  /** Decides by id, or on a link's read (`link`), whose approval is also what a form's text is typed against. */
  const decideAs = async (
    approvalId: string,
    input: ReviewerDecision & { reviewer: string; voter?: string },
    link?: { read: FactsRead; approval: Approval },
  ) => {
    parseInput(approvalIdSchema, approvalId, "approval id");
    const { formEdits, formActions, ...rest } = input;
    const approval = () => (link ? Promise.resolve(link.approval) : get(approvalId));
    if (formActions) rest.actions = typedActions(await approval(), formActions);
    const typed = formEdits && Object.keys(formEdits).length > 0 ? typedEdits(await approval(), formEdits) : undefined;
    const edits = typed && Object.keys(typed).length > 0 ? { edits: typed } : {};
    const ballot = parseInput(decideSchema, { ...rest, ...edits }, "decision");
    return link ? decideOnFacts(ctx, link.read, ballot) : decide(ctx, approvalId, ballot);
  };

  return {
    async decideByLink(token, toDecision, options = {}) {
      if (!isWellFormedToken(token)) return undefined;
      const link = await readLink(database, hashToken(token));
      if (!link || link.expired || !tokenMatches(token, link.tokenHash)) return undefined;
      const { reviewer, read } = link;
      const approval = toApproval(read.rows);
      try {
        const decision = toDecision(approval);
        return {
          view: await viewOf(
            await decideAs(approval.id, { ...decision, reviewer }, { read, approval }),
            reviewer,
            options,
          ),
        };
      } catch (refused) {
        return { refused, view: await viewOf(await get(approval.id), reviewer, options) };
      }
    },
    async open(token, options = {}) {
      if (!isWellFormedToken(token)) return undefined;
      const read = await database.run((db) =>
        readAsReviewer(db, hashToken(token), {
          ...(options.sighting ? { sighting: options.sighting } : {}),
          ...(options.history ? { history: options.history } : {}),
        }),
      );
      if (!read || read.expired || !tokenMatches(token, read.tokenHash)) return undefined;
      const { approval, reviewer, history } = read;
      return { approval, reviewer, ineligibility: mayVote(approval, reviewer), history };
    },
    async view(approvalId, reviewer, options = {}) {
      return viewOf(await get(approvalId), reviewer, options);
    },
    channelActions(channel) {
      return {
        get,
        decide: (approvalId, input) => decideAs(approvalId, { ...input, via: channel }),
        firstSighting: (digest, windowMs) => database.transaction((db) => firstSighting(db, channel, digest, windowMs)),
      };
    },
    async ping() {
      await database.run((db) => sql`select 1`.execute(db));
    },
  };
}
