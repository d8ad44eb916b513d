/** Delegation while away: `to` decides wherever `from` could, until a date or until revoked. */
import { randomUUID } from "node:crypto";
import { z } from "zod";
import type { Delegation } from "../domain/types.ts";
import { NotFoundError, ValidationError } from "../errors.ts";
import { insertDelegation, listDelegations, revokeDelegationRow } from "../store/delegations.ts";
import { toDelegation } from "../store/rows.ts";
import { identity, parseInput } from "../validation.ts";
import type { EngineContext } from "./context.ts";
import { type DelegateInput, delegateSchema, delegationsSchema } from "./inputs.ts";

export async function delegate(ctx: EngineContext, input: DelegateInput): Promise<Delegation> {
  const parsed = parseInput(delegateSchema, input, "delegate input");
  if (parsed.until.getTime() <= Date.now()) {
    throw new ValidationError("delegate input", [{ path: "until", message: "must be in the future" }]);
  }
  const row = await ctx.database.run((db) =>
    insertDelegation(db, {
      id: randomUUID(),
      from: parsed.from,
      to: parsed.to,
      until: parsed.until,
      reason: parsed.reason ?? null,
      createdBy: parsed.by ?? parsed.from,
    }),
  );
  return toDelegation(row);
}

const revokeSchema = z.strictObject({ by: identity(320).default("api") });

export async function revokeDelegation(
  ctx: EngineContext,
  id: string,
  input: { by?: string } = {},
): Promise<Delegation> {
  parseInput(z.uuid({ error: "must be a delegation id (a UUID)" }), id, "delegation id");
  const { by } = parseInput(revokeSchema, input, "revokeDelegation input");
  const row = await ctx.database.run((db) => revokeDelegationRow(db, id, by));
  if (!row) throw new NotFoundError(`Delegation ${id}`, { delegationId: id });
  return toDelegation(row);
}

export async function delegations(
  ctx: EngineContext,
  query: { active?: boolean; reviewer?: string; limit?: number } = {},
): Promise<Delegation[]> {
  const filter = parseInput(delegationsSchema, query, "delegations query");
  const rows = await ctx.database.run((db) => listDelegations(db, filter));
  return rows.map(toDelegation);
}
