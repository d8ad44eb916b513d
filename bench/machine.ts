/** The machine a run happened on, printed first so numbers from different machines are not compared blindly. */
import { cpus, loadavg, totalmem } from "node:os";
import pg from "pg";

export interface Machine {
  cores: number;
  cpu: string;
  memoryGb: number;
  node: string;
  postgres: string;
  database: string;
  /** 1, 5 and 15 minute load averages. */
  load(): string;
}

export async function describeMachine(url: string, database: string): Promise<Machine> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ version: string }>("select version()");
    return {
      cores: cpus().length,
      cpu: cpus()[0]?.model.trim() ?? "unknown",
      memoryGb: Math.round(totalmem() / 2 ** 30),
      node: process.version,
      postgres: rows[0]?.version.split(" on ")[0] ?? "unknown",
      database,
      load: () =>
        loadavg()
          .map((value) => value.toFixed(2))
          .join(" / "),
    };
  } finally {
    await client.end();
  }
}

export function machineLine(machine: Machine): string {
  return `${machine.cores} cores (${machine.cpu}), ${machine.memoryGb} GB, Node ${machine.node}, ${machine.postgres} (${machine.database})`;
}
