/** The machine a run happened on, printed first so numbers from different machines are not compared blindly. */
import { existsSync, readdirSync, readFileSync } from "node:fs";
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

/** Linux's clock tick: /proc counts CPU time in hundredths of a second. */
const TICK_MS = 10;

/** The machine's CPU time so far (ms), busy and in all, from /proc/stat: Linux only, undefined elsewhere. */
export function machineCpu(): { busyMs: number; totalMs: number } | undefined {
  if (!existsSync("/proc/stat")) return undefined;
  // cpu  user nice system idle iowait irq softirq steal …
  const all = (readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "").trim().split(/\s+/).slice(1).map(Number);
  const totalTicks = all.slice(0, 8).reduce((sum, value) => sum + value, 0);
  const idleTicks = (all[3] ?? 0) + (all[4] ?? 0);
  return { busyMs: (totalTicks - idleTicks) * TICK_MS, totalMs: totalTicks * TICK_MS };
}

/**
 * CPU time so far (ms) of this machine's PostgreSQL processes, found by their executable's name in /proc
 * (a database elsewhere counts 0); undefined where there is no /proc. A backend that has exited counts
 * through its postmaster's time of reaped children, so the sum never goes back.
 */
export function postgresCpuMs(): number | undefined {
  if (!existsSync("/proc/stat")) return undefined;
  const processes = new Map<string, { parent: string; own: number; reaped: number }>();
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    } catch {
      continue; // gone since the listing
    }
    // "pid (comm) state ppid …": utime, stime, cutime and cstime are the 12th to 15th fields after it
    const close = stat.lastIndexOf(")");
    if (stat.slice(stat.indexOf("(") + 1, close) !== "postgres") continue;
    const fields = stat.slice(close + 2).split(" ");
    processes.set(pid, {
      parent: fields[1] ?? "",
      own: Number(fields[11]) + Number(fields[12]),
      reaped: Number(fields[13]) + Number(fields[14]),
    });
  }
  let ticks = 0;
  for (const { parent, own, reaped } of processes.values()) ticks += own + (processes.has(parent) ? 0 : reaped);
  return ticks * TICK_MS;
}
