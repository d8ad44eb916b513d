/** Delegations: a reviewer away names who decides for them until a date. */
import { type RawBuilder, sql } from "kysely";
import type { Db } from "./connection.ts";
import { DELEGATION_COLUMNS, type DelegationRow } from "./database.ts";

/** Whether any of `reviewers` has an active delegation: the condition for asking delegates at all. */
export function anyActiveDelegation(schema: string, reviewers: string[]): RawBuilder<boolean> {
  return sql<boolean>`exists (select 1 from ${sql.id(schema, "delegation")}
    where from_reviewer = any(${reviewers}::text[]) and revoked_at is null and until > now())`;
}

export async function insertDelegation(
  db: Db,
  row: { id: string; from: string; to: string; until: Date; reason: string | null; createdBy: string },
): Promise<DelegationRow> {
  return db
    .insertInto("delegation")
    .values({
      id: row.id,
      from_reviewer: row.from,
      to_reviewer: row.to,
      until: row.until,
      reason: row.reason,
      created_by: row.createdBy,
      revoked_at: null,
      revoked_by: null,
    })
    .returning(DELEGATION_COLUMNS)
    .executeTakeFirstOrThrow();
}

/** Revokes the delegation if it still stands; resolves with it as it now is, or undefined when unknown. */
export async function revokeDelegationRow(db: Db, id: string, by: string): Promise<DelegationRow | undefined> {
  const revoked = await db
    .updateTable("delegation")
    .set({ revoked_at: sql<Date>`now()`, revoked_by: by })
    .where("id", "=", id)
    .where("revoked_at", "is", null)
    .returning(DELEGATION_COLUMNS)
    .executeTakeFirst();
  return revoked ?? db.selectFrom("delegation").select(DELEGATION_COLUMNS).where("id", "=", id).executeTakeFirst();
}

export async function listDelegations(
  db: Db,
  filter: { active?: boolean; reviewer?: string; limit: number },
): Promise<DelegationRow[]> {
  let query = db.selectFrom("delegation").select(DELEGATION_COLUMNS);
  if (filter.active === true) {
    query = query.where("revoked_at", "is", null).where(sql<boolean>`until > statement_timestamp()`);
  } else if (filter.active === false) {
    query = query.where(sql<boolean>`(revoked_at is not null or until <= statement_timestamp())`);
  }
  if (filter.reviewer !== undefined) {
    const reviewer = filter.reviewer;
    query = query.where((eb) => eb.or([eb("from_reviewer", "=", reviewer), eb("to_reviewer", "=", reviewer)]));
  }
  return query.orderBy("created_at", "desc").orderBy("id").limit(filter.limit).execute();
}

/** Active delegations from `reviewers` on this approval, oldest first; never to its requester. */
export async function activeDelegationsFrom(db: Db, approvalId: string, reviewers: string[]): Promise<DelegationRow[]> {
  return db
    .selectFrom("delegation")
    .select(DELEGATION_COLUMNS)
    .where("from_reviewer", "=", sql<string>`any(${reviewers}::text[])`)
    .where(({ eb, selectFrom }) =>
      eb("to_reviewer", "<>", selectFrom("approval").select("requested_by").where("id", "=", approvalId)),
    )
    .where("revoked_at", "is", null)
    .where(sql<boolean>`until > statement_timestamp()`)
    .orderBy("created_at")
    .execute();
}

/** Links for delegates who have none on this approval yet; they expire with the reviewers' links. */
export function addTokensQuery(
  schema: string,
  approvalId: string,
  tokens: { reviewer: string; nonce: Buffer; tokenHash: Buffer }[],
): RawBuilder<unknown> {
  const rows = tokens.map((t) => ({
    reviewer: t.reviewer,
    nonce: t.nonce.toString("base64"),
    token_hash: t.tokenHash.toString("base64"),
  }));
  return sql`insert into ${sql.id(schema, "token")} (approval_id, reviewer, nonce, token_hash, expires_at)
    select a.id, k.reviewer, decode(k.nonce, 'base64'), decode(k.token_hash, 'base64'),
      coalesce(t.expires_at, a.deadline + interval '7 days')
    from ${sql.id(schema, "approval")} a
    cross join lateral (select max(expires_at) as expires_at from ${sql.id(schema, "token")} where approval_id = a.id) t
    cross join json_to_recordset(${JSON.stringify(rows)}::json) as k(reviewer text, nonce text, token_hash text)
    where a.id = ${approvalId}
    on conflict (approval_id, reviewer) do nothing
    returning reviewer`;
}
