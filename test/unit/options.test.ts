import { describe, expect, it } from "vitest";
import { createApprovals, ValidationError, type ApprovalsOptions } from "../../src/index.ts";

const valid: ApprovalsOptions = {
  connectionString: "postgres://localhost/never-connected",
  publicUrl: "https://app.example.com/approvals",
  secret: "s".repeat(32),
};

function issuesOf(options: unknown): { path: string; message: string }[] {
  try {
    createApprovals(options as ApprovalsOptions);
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).code).toBe("VALIDATION");
    return (error as ValidationError).issues;
  }
  throw new Error("expected a ValidationError");
}

describe("createApprovals options", () => {
  it("accepts the documented minimum without connecting", () => {
    expect(createApprovals(valid).schema).toBe("countersign");
  });

  it("names each bad field and its rule", () => {
    expect(issuesOf({ ...valid, secret: "short" })).toEqual([
      { path: "secret", message: "must be at least 32 characters" },
    ]);
    expect(issuesOf({ ...valid, publicUrl: "ftp://x" })).toEqual([
      { path: "publicUrl", message: "must be an absolute http(s) URL" },
    ]);
    expect(issuesOf({ ...valid, schema: "Bad-Name" })[0]?.path).toBe("schema");
    expect(issuesOf({ ...valid, defaults: { reminders: ["5 minutes"] } })).toEqual([
      {
        path: "defaults.reminders.0",
        message: '"5 minutes" is not a duration; use e.g. "30s", "5m", "8h", "2d" or milliseconds',
      },
    ]);
    expect(issuesOf({ ...valid, channels: [{ name: "x" }] })).toEqual([
      { path: "channels.0", message: "must be a channel: { name: string; send(notification): Promise<void> }" },
    ]);
  });

  it("refuses a connection string pg would misread, instead of failing later with ENOTFOUND base", () => {
    expect(issuesOf({ ...valid, connectionString: "not-a-url" })).toEqual([
      {
        path: "connectionString",
        message: "must be a PostgreSQL URL, e.g. postgres://user:password@localhost:5432/app",
      },
    ]);
    expect(issuesOf({ ...valid, connectionString: "mysql://localhost/app" })[0]?.path).toBe("connectionString");
    for (const url of [
      "postgresql://u:p@db.internal:6432/app?sslmode=require",
      "/var/run/postgresql app",
      "socket:/var/run/postgresql?db=app",
    ]) {
      expect(createApprovals({ ...valid, connectionString: url }).schema).toBe("countersign");
    }
  });

  it("takes environment variables as they are (string | undefined) and says which one is missing", () => {
    const env: Record<string, string | undefined> = { DATABASE_URL: "postgres://localhost/app" };
    const fromEnv: ApprovalsOptions = {
      connectionString: env.DATABASE_URL,
      publicUrl: env.PUBLIC_URL,
      secret: env.COUNTERSIGN_SECRET,
    };
    expect(issuesOf(fromEnv)).toEqual([
      { path: "publicUrl", message: "is required" },
      { path: "secret", message: "is required" },
    ]);
  });

  it("refuses channel names that could not name a worker task or a URL path", () => {
    const named = (name: string) => ({ name, send: async () => {} });
    expect(issuesOf({ ...valid, channels: [named("slack"), named("chat ops/eu")] })).toEqual([
      { path: "channels.1.name", message: "must be 1 to 64 letters, digits, '.', '_' or '-'" },
    ]);
    expect(issuesOf({ ...valid, channels: [named("")] })[0]?.path).toBe("channels.0.name");
    expect(createApprovals({ ...valid, channels: [named("slack-eu"), named("email.v2")] }).schema).toBe("countersign");
  });

  it("requires exactly one of connectionString and pool", () => {
    const { connectionString: _, ...withoutDatabase } = valid;
    expect(issuesOf(withoutDatabase)).toEqual([
      { path: "connectionString", message: "give either connectionString or pool (exactly one)" },
    ]);
  });

  it("refuses unknown options and says which", () => {
    expect(issuesOf({ ...valid, secrets: "x" })).toEqual([{ path: "", message: 'unknown option "secrets"' }]);
  });

  it("puts every issue in the message, one per line", () => {
    try {
      createApprovals({ publicUrl: "nope" } as unknown as ApprovalsOptions);
    } catch (error) {
      expect((error as Error).message).toMatch(/^Invalid createApprovals options:\n {2}- /);
      expect((error as Error).message).toContain("secret: is required");
      expect((error as Error).message).toContain("publicUrl: must be an absolute http(s) URL");
    }
  });
});
