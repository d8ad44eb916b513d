/** What every CLI command shares: connection options, the approvals service, output and exit codes. */
import { randomBytes } from "node:crypto";
import { stripVTControlCharacters, styleText } from "node:util";
import { type Command, Option } from "commander";
import { createApprovals, type Approvals } from "../approvals.ts";
import type { ApprovalsOptions } from "../core/options.ts";
import { describeDecision } from "../domain/describe.ts";
import { formatDuration } from "../domain/duration.ts";
import type { Approval, Decision } from "../domain/types.ts";
import { ApprovalError, ERROR_CODES, ValidationError } from "../errors.ts";
import { DEFAULT_SCHEMA } from "../store/migrate.ts";

/**
 * Exit codes: 0 ok (or approved, a timeout whose action is approve included), 1 error, 2 usage; `wait` and
 * `request --wait` add 3 rejected, 4 not approved (timed out or cancelled), 5 still pending.
 */
export const EXIT = { OK: 0, ERROR: 1, USAGE: 2, REJECTED: 3, NOT_APPROVED: 4, STILL_PENDING: 5 } as const;

/** A usage mistake (exit 2), as opposed to a failure (exit 1). */
export class UsageError extends Error {}

export interface ConnectionOptions {
  databaseUrl?: string;
  schema: string;
  secret?: string;
  publicUrl?: string;
  json?: boolean;
}

/** For a repeatable option: each use adds a value. */
export const collect = (value: string, previous: string[] = []) => [...previous, value];

/** Adds the options every command takes. */
export function withConnection(command: Command): Command {
  return command
    .addOption(new Option("--database-url <url>", "PostgreSQL connection string").env("DATABASE_URL"))
    .addOption(new Option("--schema <name>", "countersign's schema").env("COUNTERSIGN_SCHEMA").default(DEFAULT_SCHEMA));
}

export function withSecret(command: Command): Command {
  return command
    .addOption(
      new Option("--secret <secret>", "the secret your app passes to createApprovals").env("COUNTERSIGN_SECRET"),
    )
    .addOption(
      new Option("--public-url <url>", "where your app mounts the HTTP handler").env("COUNTERSIGN_PUBLIC_URL"),
    );
}

/** Where each connection option comes from on the command line: messages name these, not the API's. */
const FLAGS: Record<string, string> = {
  connectionString: "--database-url (or DATABASE_URL)",
  schema: "--schema (or COUNTERSIGN_SCHEMA)",
  secret: "--secret (or COUNTERSIGN_SECRET)",
  publicUrl: "--public-url (or COUNTERSIGN_PUBLIC_URL)",
};

export interface Needs {
  /** `request` and `worker` derive reviewer tokens: they need the app's real secret. */
  secret?: boolean;
  /** `worker` sends links: they must point where the app serves the page. */
  publicUrl?: boolean;
  /** The `--config` file the extra options came from, named in messages about them. */
  configFile?: string;
  /**
   * `worker` runs the same statements for as long as it lives: they are prepared once per connection as
   * in an app. A command that runs a few statements and exits gains nothing from that, and sends them
   * unnamed, so it also works through a transaction pooler (PgBouncer) that keeps no prepared statements.
   */
  longRunning?: boolean;
}

/**
 * The approvals service for a command. Commands that never build links or tokens get placeholders for
 * the secret and public URL; `request` and `worker` need the real ones, and are refused without them.
 */
export function open(options: ConnectionOptions, extra: Partial<ApprovalsOptions> = {}, needs: Needs = {}): Approvals {
  if (!options.databaseUrl && !extra.connectionString && !extra.pool)
    throw new UsageError("no database: pass --database-url or set DATABASE_URL");
  if (needs.secret && !options.secret && !extra.secret) {
    throw new UsageError("no secret: pass --secret or set COUNTERSIGN_SECRET (the same secret your app uses)");
  }
  if (needs.publicUrl && !options.publicUrl && !extra.publicUrl) {
    throw new UsageError(
      "no public URL: pass --public-url or set COUNTERSIGN_PUBLIC_URL to where your app mounts countersign's HTTP handler " +
        "(e.g. https://app.example.com/approvals); the links in notifications point there",
    );
  }
  try {
    return createApprovals({
      connectionString: options.databaseUrl,
      schema: options.schema,
      secret: options.secret ?? randomBytes(32).toString("hex"),
      publicUrl: options.publicUrl ?? "http://localhost/approvals",
      ...(needs.longRunning ? {} : { noPreparedStatements: true }),
      ...extra,
    });
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    const lines = error.issues.map(({ path, message }) => {
      const option = path.split(".")[0] ?? "";
      const where = option in extra ? `${needs.configFile ?? "--config"}: ${path}` : (FLAGS[option] ?? path);
      return `${where}: ${message}`;
    });
    throw new UsageError(lines.join("\n"));
  }
}

/** A library error whose advice is for code ("call approvals.migrate()"), said in the CLI's terms. */
export function inCliTerms(error: unknown, schema: string): unknown {
  if (error instanceof ApprovalError && error.code === ERROR_CODES.NOT_MIGRATED) {
    return new ApprovalError(
      error.code,
      `countersign's tables are not in schema "${schema}" of this database yet. Run \`countersign migrate\` once with the same ` +
        "--database-url and --schema, or apply the SQL that `countersign migrate --dry-run` prints with your own migration tool.",
      error.data,
      { cause: error },
    );
  }
  return error;
}

/** Data goes to stdout; messages to stderr. Colours only on a TTY and never with NO_COLOR. */
export const out = (text: string) => void process.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
export const say = (text: string) => void process.stderr.write(text.endsWith("\n") ? text : `${text}\n`);
export const json = (value: unknown) => out(JSON.stringify(value));

type Style = Parameters<typeof styleText>[0];
export const paint = (style: Style, text: string, stream: NodeJS.WriteStream = process.stdout) =>
  styleText(style, text, { stream });

const STATUS_STYLE: Record<Approval["status"], Style> = {
  pending: "yellow",
  approved: "green",
  rejected: "red",
  timed_out: "magenta",
  cancelled: "gray",
};
export const status = (value: Approval["status"]) => paint(STATUS_STYLE[value], value.replace("_", " "));

export function relative(date: Date, now = new Date()): string {
  const ms = date.getTime() - now.getTime();
  const text = formatDuration(Math.abs(ms) >= 60_000 ? Math.round(Math.abs(ms) / 60_000) * 60_000 : Math.abs(ms));
  return ms >= 0 ? `in ${text}` : `${text} ago`;
}

const visibleLength = (text: string) => stripVTControlCharacters(text).length;

/** A plain aligned table; cells may carry colour codes. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((header, i) => Math.max(header.length, ...rows.map((row) => visibleLength(row[i] ?? ""))));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell + " ".repeat((widths[i] ?? 0) - visibleLength(cell))))
      .join("  ")
      .trimEnd();
  return [line(headers.map((h) => paint("bold", h))), ...rows.map(line)].join("\n");
}

/** Reviewers the current step is waiting on. */
export function waitingOn(approval: Approval): string[] {
  const step = approval.steps[approval.currentStep];
  return step?.reviewers.filter((r) => r.active && !r.vote).map((r) => r.reviewer) ?? [];
}

export function decisionLine(decision: Decision): string {
  const words = describeDecision(decision);
  const how = [words.by, words.via].filter(Boolean).join(" ");
  // A timeout's outcome depends on its action: say which way it went, as the exit code does.
  const followed = words.consequence ? ` (${words.consequence})` : "";
  const comment = words.comment ? `: ${words.comment}` : "";
  return `${status(decision.status)}${how ? ` ${how}` : ""} at ${decision.decidedAt.toISOString()}${followed}${comment}`;
}

export function exitCodeFor(decision: Decision): number {
  if (decision.approved) return EXIT.OK;
  return decision.status === "rejected" ? EXIT.REJECTED : EXIT.NOT_APPROVED;
}

/** Runs a command body with an approvals instance that is always stopped afterwards. */
export async function using<T>(approvals: Approvals, work: (approvals: Approvals) => Promise<T>): Promise<T> {
  try {
    return await work(approvals);
  } catch (error) {
    throw inCliTerms(error, approvals.schema);
  } finally {
    await approvals.stop();
  }
}
