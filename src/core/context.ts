import type { Database } from "../store/connection.ts";
import type { ResolvedOptions } from "./options.ts";

/** What every engine operation runs with: the database and the resolved options. */
export interface EngineContext {
  database: Database;
  options: ResolvedOptions;
}
