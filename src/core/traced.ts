/** The public writes as spans (see `telemetry.ts`): validated at the edge, then run by the engine. */
import type { Approval } from "../domain/types.ts";
import type { HostDb } from "../store/connection.ts";
import { parseInput } from "../validation.ts";
import type { EngineContext } from "./context.ts";
import { cancel, decide, requestApproval } from "./engine.ts";
import { approvalId, type CancelInput, cancelSchema, type DecideInput, decideSchema } from "./inputs.ts";
import type { ApprovalRequest } from "./request-input.ts";

export function tracedRequest(ctx: EngineContext, request: ApprovalRequest, host?: HostDb): Promise<Approval> {
  const attributes = { "countersign.approval.type": String(request?.type) };
  return ctx.telemetry.span("countersign.request", attributes, undefined, async (span) => {
    // The span's context is stored with the approval: later spans link back to this trace.
    const approval = await requestApproval(ctx, request, host, span.context);
    span.set("countersign.approval.id", approval.id);
    span.set("countersign.approval.status", approval.status);
    return approval;
  });
}

export async function tracedDecide(
  ctx: EngineContext,
  id: string,
  input: DecideInput,
  host?: HostDb,
): Promise<Approval> {
  parseInput(approvalId, id, "approval id");
  const parsed = parseInput(decideSchema, input, "decide input");
  return tracedChange(ctx, "countersign.decide", id, { "countersign.via": parsed.via }, () =>
    decide(ctx, id, parsed, host),
  );
}

export async function tracedCancel(
  ctx: EngineContext,
  id: string,
  input: CancelInput,
  host?: HostDb,
): Promise<Approval> {
  parseInput(approvalId, id, "approval id");
  const parsed = parseInput(cancelSchema, input, "cancel input");
  return tracedChange(ctx, "countersign.cancel", id, {}, () => cancel(ctx, id, parsed, host));
}

/** A change of one approval as a span (linked to its request's trace) that records the status it left. */
function tracedChange(
  ctx: EngineContext,
  name: string,
  id: string,
  attributes: Record<string, string>,
  run: () => Promise<Approval>,
): Promise<Approval> {
  return ctx.telemetry.span(name, { "countersign.approval.id": id, ...attributes }, id, async (span) => {
    const approval = await run();
    span.set("countersign.approval.status", approval.status);
    return approval;
  });
}
