/**
 * `waitForDecision`: one waiter per call, all sharing the instance's LISTEN connection. Wakes on the
 * change notification, re-reads on every (re)connection of the listener, and enforces the deadline itself
 * (so a wait ends on time with no worker running). While the database cannot be reached it keeps looking
 * with backoff instead of failing: an approval that timed out during an outage resolves as timed out
 * once the database is back.
 */
import type { z } from "zod";
import { isFinal } from "../domain/lifecycle.ts";
import type { Decision, JsonValue, PayloadEdit } from "../domain/types.ts";
import { ApprovalError, ERROR_CODES, NotFoundError, WaitTimeoutError } from "../errors.ts";
import { approvalRow, loadApproval } from "../store/approval-reads.ts";
import type { ChangeListener } from "../store/change-listener.ts";
import { isConnectionFailure } from "../store/connection.ts";
import { toDecision } from "../store/rows.ts";
import { parseInput } from "../validation.ts";
import type { EngineContext } from "./context.ts";
import { fireTimeout } from "./engine.ts";
import { approvalId, type WaitOptions, waitSchema } from "./inputs.ts";
import { setLongTimeout } from "./long-timer.ts";

export interface Waiter {
  wait(id: string, options?: WaitOptions): Promise<Decision>;
  /** Ends every pending wait with `error` (on stop). */
  endAll(error: Error): void;
}

export function createWaiter(ctx: EngineContext, listener: ChangeListener): Waiter {
  const waits = new Set<(error: Error) => void>();
  return {
    wait(id, options = {}) {
      let parsed: z.output<typeof waitSchema>;
      try {
        parseInput(approvalId, id, "approval id");
        parsed = parseInput(waitSchema, options, "waitForDecision options");
      } catch (error) {
        return Promise.reject(error);
      }
      return waitForDecision(ctx, listener, waits, id, parsed.timeout, parsed.signal);
    },
    endAll(error) {
      for (const end of waits) end(error);
    },
  };
}

/** How long a waiter waits before looking again while the database cannot be reached. */
const RETRY_MS = { first: 250, max: 5_000 };

/** The error a waiter rejects with: countersign's own, or an unexpected one wrapped so callers can branch on `code`. */
function typedError(error: unknown): unknown {
  if (error instanceof ApprovalError || (error instanceof Error && error.name === "AbortError")) return error;
  return new ApprovalError(
    ERROR_CODES.INTERNAL,
    `Waiting for a decision failed: ${String(error)}`,
    {},
    { cause: error },
  );
}

function waitForDecision(
  ctx: EngineContext,
  listener: ChangeListener,
  waits: Set<(error: Error) => void>,
  id: string,
  timeoutMs: number | undefined,
  signal: AbortSignal | undefined,
): Promise<Decision> {
  const { database } = ctx;
  return new Promise<Decision>((resolve, reject) => {
    let settled = false;
    let failures = 0;
    /** The approval's payload and its edits from the last read: a final change's notification carries the rest. */
    let known: { payload: JsonValue; revision: number; edits: PayloadEdit[] } | undefined;
    let cancelDeadline: (() => void) | undefined;
    let cancelRetry: (() => void) | undefined;
    let cancelWait: (() => void) | undefined;
    // Where LISTEN cannot work (a transaction pooler and no direct connection), look again now and then.
    const pollMs = ctx.options.waitPollIntervalMs;
    const poll = pollMs ? setInterval(() => check(), pollMs) : undefined;
    poll?.unref();
    const settle = (outcome: { decision: Decision } | { error: unknown }) => {
      if (settled) return;
      settled = true;
      clearInterval(poll);
      unsubscribe();
      cancelWait?.();
      cancelDeadline?.();
      cancelRetry?.();
      signal?.removeEventListener("abort", onAbort);
      waits.delete(end);
      if ("decision" in outcome) resolve(outcome.decision);
      else reject(outcome.error);
    };
    const end = (error: Error) => settle({ error });
    const onAbort = () => settle({ error: signal?.reason });
    const onFailure = (error: unknown) => {
      if (!isConnectionFailure(error)) return settle({ error: typedError(error) });
      cancelRetry?.();
      cancelRetry = setLongTimeout(check, Math.min(RETRY_MS.first * 2 ** failures++, RETRY_MS.max));
    };
    const check = () => {
      if (settled) return;
      database
        .run(async (db) => {
          const row = await approvalRow(db, id);
          // A batch's word per action comes from its votes: a final batch is read whole.
          const whole = row?.actions && isFinal(row.status) ? await loadApproval(db, id) : undefined;
          return { row, decision: whole ? whole.decision : row && toDecision(row) };
        })
        .then(({ row, decision }) => {
          failures = 0;
          // A batch's notification lacks the per-action word, so a batch is always re-read.
          known = row && !row.actions ? { payload: row.payload, revision: row.revision, edits: row.edits } : undefined;
          if (!row) return settle({ error: new NotFoundError(`Approval ${id}`, { approvalId: id }) });
          if (decision) return settle({ decision });
          cancelDeadline?.();
          const untilDeadline = Math.max(0, row.deadline.getTime() - row.db_now.getTime()) + 50;
          cancelDeadline = setLongTimeout(() => fireTimeout(ctx, id).then(check, onFailure), untilDeadline);
        })
        .catch(onFailure);
    };
    if (signal?.aborted) return reject(signal.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
    waits.add(end);
    if (timeoutMs !== undefined)
      cancelWait = setLongTimeout(() => settle({ error: new WaitTimeoutError(id, timeoutMs) }), timeoutMs);
    // Subscribing first and checking once LISTEN is active leaves no gap for a decision to slip through.
    const unsubscribe = listener.subscribe(id, {
      onChange: (change) => {
        if (!isFinal(change.status)) return;
        // The notification carries the decision: no read of the row, however many waiters wake at once,
        // unless a reviewer edited the payload since this waiter read it.
        const decided = change.decision;
        if (decided && known?.revision === decided.revision) {
          settle({
            decision: {
              id,
              status: change.status,
              decidedBy: decided.decidedBy,
              via: decided.via,
              comment: decided.comment,
              decidedAt: decided.decidedAt,
              approved: decided.approved,
              revision: decided.revision,
              onBehalfOf: decided.onBehalfOf,
              payload: known.payload,
              edits: known.edits,
              actions: null,
            },
          });
        } else check();
      },
      onListening: check,
    });
  });
}
