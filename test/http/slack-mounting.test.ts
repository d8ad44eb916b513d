/** Mounted behind a body parser that keeps no raw bytes, the Slack route says how to mount it instead of a silent 401. */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import express from "express";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { slackChannel, type Logger } from "../../src/index.ts";
import { expressHandler } from "../../src/http/express.ts";
import { signSlackRequest } from "../../src/security/signatures.ts";
import { useTestBed } from "../support/test-bed.ts";

const SIGNING_SECRET = "0123456789abcdef0123456789abcdef";
const errors: string[] = [];
const logger: Logger = { debug() {}, info() {}, warn() {}, error: (_context, message) => void errors.push(message) };
const bed = useTestBed("slack_mounting", () => ({
  logger,
  channels: [
    slackChannel({ token: "xoxb-test", signingSecret: SIGNING_SECRET, slackApiUrl: "http://127.0.0.1:9/api/" }),
  ],
}));

let server: Server;
let base: string;
beforeAll(async () => {
  const app = express();
  app.use(express.urlencoded({ extended: false })); // parses app-wide and keeps no raw body
  app.use("/approvals", expressHandler(bed.approvals));
  server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/approvals`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe("the Slack route behind express.urlencoded() without rawBody", () => {
  it("logs one clear error saying how to mount countersign when the re-encoded body fails the signature", async () => {
    // encodeURIComponent leaves `!` as is; URLSearchParams, which re-encodes the parsed body, writes "%21".
    const body = `payload=${encodeURIComponent(JSON.stringify({ type: "block_actions", user: { id: "U1" }, note: "a!b" }))}`;
    expect(body).toContain("!");
    const timestamp = Math.floor(Date.now() / 1000);
    const headers = {
      "content-type": "application/x-www-form-urlencoded",
      "x-slack-request-timestamp": String(timestamp),
      "x-slack-signature": signSlackRequest(SIGNING_SECRET, timestamp, body),
    };
    const response = await fetch(`${base}/slack/actions`, { method: "POST", headers, body });
    expect(response.status).toBe(401);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain("a body parser consumed the slack request before countersign");
    expect(errors[0]).toContain("Mount countersign before the parser");
    expect(errors[0]).toContain("rawBody");
  });
});
