import type { Database } from "../store/connection.ts";
import type { ResolvedOptions } from "./options.ts";
import type { Telemetry } from "./telemetry.ts";

/** What every engine operation runs with: the database, the resolved options and where to report. */
export interface EngineContext {
  database: Database;
  options: ResolvedOptions;
  telemetry: Telemetry;
}
