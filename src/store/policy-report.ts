/** What policies answered, beside what then happened to each approval: the rows of `policyReport`. */
import { sql } from "kysely";
import type { Db } from "./connection.ts";

export interface PolicyTallyRow {
  policy: string;
  version: string;
  mode: "enforce" | "shadow";
  evaluated: number;
  would_approve: number;
  would_reject: number;
  errors: number;
  agreed: number;
  disagreed: number;
  undecided: number;
}

/** Per policy, version and mode, since `since`. Humans decided: approved or rejected, not by a policy. */
export async function policyTallies(db: Db, schema: string, since: Date): Promise<PolicyTallyRow[]> {
  const humans = sql`a.status in ('approved', 'rejected') and a.decided_via is distinct from 'policy'`;
  const agrees = sql`(e.data ->> 'outcome' = 'approve') = (a.status = 'approved')`;
  const result = await sql<PolicyTallyRow>`
    select e.data ->> 'policy' as policy, e.data ->> 'version' as version, e.data ->> 'mode' as mode,
      count(*)::int as evaluated,
      (count(*) filter (where e.data ->> 'outcome' = 'approve'))::int as would_approve,
      (count(*) filter (where e.data ->> 'outcome' = 'reject'))::int as would_reject,
      (count(*) filter (where e.data ? 'error'))::int as errors,
      (count(*) filter (where e.data ? 'outcome' and ${humans} and ${agrees}))::int as agreed,
      (count(*) filter (where e.data ? 'outcome' and ${humans} and not ${agrees}))::int as disagreed,
      (count(*) filter (where e.data ? 'outcome' and not ${humans} and a.decided_via is distinct from 'policy'))::int as undecided
    from ${sql.id(schema, "event")} e
    left join ${sql.id(schema, "approval")} a on a.id = e.approval_id
    where e.type = 'policy_evaluated' and e.created_at >= ${since}
    group by 1, 2, 3
    order by 1, 2, 3`.execute(db);
  return result.rows;
}
