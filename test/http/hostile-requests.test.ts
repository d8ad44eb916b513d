/**
 * Requests a browser would never send: odd methods, undecodable and absolute-form targets, bodies that
 * are refused before they are read. None may crash the host, get a 5xx, or break the connection for the
 * request that follows it on the same socket.
 */
import http from "node:http";
import { fileURLToPath } from "node:url";
import { Agent, fetch as undiciFetch } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runScript } from "../support/child-process.ts";
import { ADAPTERS, startServer, tokenFor, type RunningServer } from "../support/http-servers.ts";
import { rawConnection, rawRequest } from "../support/raw-http.ts";
import { readJson, TEST_SECRET, useTestBed } from "../support/test-bed.ts";

const bed = useTestBed("http_hostile", { http: { maxBodyBytes: 4096 } });

const request = () => ({
  type: "deploy.v1",
  title: "Deploy v2",
  requestedBy: "agent://deployer",
  reviewers: ["sre@company.com"],
  reminders: [],
});

/** Request lines that once threw inside the adapters. */
const HOSTILE_TARGETS = [
  "TRACE /approvals/healthz HTTP/1.1",
  "TRACK /approvals/healthz HTTP/1.1",
  "GET //%zz HTTP/1.1",
  "GET //approvals HTTP/1.1",
  "GET /approvals//%zz HTTP/1.1",
  "GET http://[::1 HTTP/1.1",
  "GET http://example.com:99999/approvals/healthz HTTP/1.1",
  "GET http://exa mple.com/ HTTP/1.1",
  "GET /approvals/r/%00 HTTP/1.1",
  "GET /approvals/%E0%A4%A HTTP/1.1",
  "POST /approvals/r/%ff HTTP/1.1",
  "OPTIONS * HTTP/1.1",
  "PROPFIND /approvals/healthz HTTP/1.1",
];

const portOf = (server: RunningServer) => Number(new URL(server.base).port);

/** One request through Node's own client and `agent`; resolves with the status once the body is read. */
function nodeRequest(agent: http.Agent, url: string, method: string, body?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method, agent, headers: body ? { "content-type": "application/json" } : {} },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      },
    );
    req.on("error", reject);
    req.setTimeout(10_000, () => req.destroy(new Error(`no answer to ${method} ${url}`)));
    req.end(body);
  });
}

describe.each(ADAPTERS)("hostile requests through the %s adapter", (adapter) => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer(adapter, bed.approvals);
  });
  afterAll(() => server.close());

  it("answers every odd request line with a 4xx (or a page), never a 5xx", async () => {
    // Hono's node server builds a fetch Request before any app code runs, and the fetch API cannot hold
    // these methods: Hono answers them itself, so they never reach `approvals.fetch`.
    const lines =
      adapter === "hono" ? HOSTILE_TARGETS.filter((line) => !/^(TRACE|TRACK) /.test(line)) : HOSTILE_TARGETS;
    for (const line of lines) {
      const response = await rawRequest(
        portOf(server),
        `${line}\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n`,
      ).catch((error: Error) => ({ status: 0, body: error.message, headers: {} }));
      // Node's own parser may refuse a request line before any adapter sees it (400); that is fine too.
      expect(response.status, line).toBeGreaterThanOrEqual(200);
      expect(response.status, line).toBeLessThan(500);
      expect(response.body, line).not.toMatch(/at .*\.(ts|js):\d+/);
    }
    // The server is still up and answers the next request.
    expect((await fetch(`${server.base}/healthz`)).status).toBe(200);
  });

  it("closes cleanly after refusing a body it did not read, so the next request on a reused connection is answered", async () => {
    const { id } = await bed.approvals.requestApproval(request());
    const token = await tokenFor(bed.pool, bed.schema, TEST_SECRET, id, "sre@company.com");
    const path = new URL(`${server.base}/r/${token}`).pathname;
    // Bodies declared but only partly sent: the answer comes before the rest. A host's own body parser
    // (express-after-parsers) waits for whole bodies before countersign runs, so it gets whole ones.
    const partial = (body: string, length: number) =>
      adapter === "express-after-parsers" ? body.padEnd(length, " ") : body;
    const refusals = [
      // 413: declared too large, body never read.
      `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 9000\r\n\r\n${partial("c".repeat(2000), 9000)}`,
      // 404 and 405 answered before the body is read.
      `POST /approvals/nowhere HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 20\r\n\r\n${partial('{"decision":"appr', 20)}`,
      `PUT ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 30\r\n\r\n${partial('{"decision":"appr', 30)}`,
    ];
    for (const first of refusals) {
      const connection = await rawConnection(portOf(server));
      connection.write(first);
      const refused = await connection.response();
      expect(refused.status, first.split("\r\n")[0]).toBeGreaterThanOrEqual(400);
      expect(refused.status).toBeLessThan(500);
      if (adapter === "express-after-parsers") {
        // The host's parser read the whole body: the connection is still good for the next request.
        connection.write("GET /approvals/healthz HTTP/1.1\r\nHost: x\r\n\r\n");
        expect((await connection.response()).status).toBe(200);
        connection.close();
        continue;
      }
      expect(refused.headers.connection, first.split("\r\n")[0]).toBe("close");
      // The server ends the connection instead of waiting for the rest of a body it will never read.
      await expect(
        Promise.race([connection.closed, new Promise((r) => setTimeout(() => r("still open"), 3000))]),
      ).resolves.not.toBe("still open");
    }

    // Keep-alive clients (undici with one connection, Node's keep-alive agent) see each refused request
    // answered and the next one too.
    const agent = new Agent({ connections: 1, pipelining: 1 });
    const nodeAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      for (let i = 0; i < 3; i++) {
        const big = await undiciFetch(`${server.base}/r/${token}`, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: `decision=approve&comment=${"x".repeat(6000)}`,
          dispatcher: agent,
        });
        expect(big.status).toBe(413);
        await big.arrayBuffer();
        const next = await undiciFetch(`${server.base}/healthz`, { dispatcher: agent });
        expect(next.status).toBe(200);
        await next.arrayBuffer();

        expect(await nodeRequest(nodeAgent, `${server.base}/nowhere`, "POST", '{"decision":"approve"}')).toBe(404);
        expect(await nodeRequest(nodeAgent, `${server.base}/healthz`, "GET")).toBe(200);
      }
    } finally {
      await agent.close();
      nodeAgent.destroy();
    }
  });

  it("a NUL byte in the comment is a 400 that names the field, and nothing is decided", async () => {
    const { id } = await bed.approvals.requestApproval(request());
    const token = await tokenFor(bed.pool, bed.schema, TEST_SECRET, id, "sre@company.com");
    const response = await fetch(`${server.base}/r/${token}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ decision: "approve", comment: "ok\u0000" }),
    });
    expect(response.status).toBe(400);
    expect((await readJson(response)).error.issues).toEqual([
      { path: "comment", message: "must not contain NUL characters" },
    ]);
    expect((await bed.approvals.get(id)).status).toBe("pending");
  });

  it("records a reviewer's view once per step however often the page is loaded", async () => {
    const { id } = await bed.approvals.requestApproval(request());
    const token = await tokenFor(bed.pool, bed.schema, TEST_SECRET, id, "sre@company.com");
    await Promise.all(
      Array.from({ length: 20 }, () => fetch(`${server.base}/r/${token}`).then((r) => r.arrayBuffer())),
    );
    const views = (await bed.approvals.events(id)).filter((e) => e.type === "viewed");
    expect(views).toHaveLength(1);
    expect(views[0]).toMatchObject({ actor: "sre@company.com", step: 0 });
  });
});

describe("a bare Node server (http.createServer(approvals.nodeHandler))", () => {
  it("survives every hostile request and keeps answering", async () => {
    const script = fileURLToPath(new URL("../faults/processes/node-server.ts", import.meta.url));
    const child = runScript(script, {
      DATABASE_URL: bed.url,
      COUNTERSIGN_SCHEMA: bed.schema,
      COUNTERSIGN_SECRET: TEST_SECRET,
    });
    try {
      const { port } = (await child.next((line) => typeof line.port === "number")) as { port: number };
      for (const line of HOSTILE_TARGETS) {
        await rawRequest(port, `${line}\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n`).catch(() => undefined);
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(
        child.process.exitCode,
        (await Promise.race([child.exited, Promise.resolve({ stderr: "" })])).stderr,
      ).toBeNull();
      expect((await fetch(`http://127.0.0.1:${port}/approvals/healthz`)).status).toBe(200);
    } finally {
      child.process.kill("SIGKILL");
    }
  });
});
