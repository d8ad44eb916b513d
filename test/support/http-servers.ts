/** Real HTTP servers on ephemeral loopback ports, one per adapter, each mounting the handler at /approvals. */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import express from "express";
import Fastify from "fastify";
import { Hono } from "hono";
import type { Approvals } from "../../src/index.ts";
import { expressHandler } from "../../src/http/express.ts";
import { fastifyPlugin } from "../../src/http/fastify.ts";
import { deriveToken } from "../../src/security/tokens.ts";
import type pg from "pg";

export const ADAPTERS = ["node", "express", "express-after-parsers", "fastify", "hono"] as const;
export type Adapter = (typeof ADAPTERS)[number];

export interface RunningServer {
  /** e.g. http://127.0.0.1:41234/approvals */
  base: string;
  close(): Promise<void>;
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port)));
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

export async function startServer(adapter: Adapter, approvals: Approvals): Promise<RunningServer> {
  switch (adapter) {
    case "node": {
      const server = createServer(approvals.nodeHandler);
      const port = await listen(server);
      return { base: `http://127.0.0.1:${port}/approvals`, close: () => closeServer(server) };
    }
    case "express":
    case "express-after-parsers": {
      const app = express();
      if (adapter === "express-after-parsers") {
        // A host that parses bodies app-wide, keeping the raw bytes as many do for webhooks.
        app.use(express.json({ verify: (req, _res, buf) => Object.assign(req, { rawBody: buf }) }));
        app.use(
          express.urlencoded({ extended: false, verify: (req, _res, buf) => Object.assign(req, { rawBody: buf }) }),
        );
      }
      app.use("/approvals", expressHandler(approvals));
      const server = createServer(app);
      const port = await listen(server);
      return { base: `http://127.0.0.1:${port}/approvals`, close: () => closeServer(server) };
    }
    case "fastify": {
      const fastify = Fastify();
      await fastify.register(fastifyPlugin(approvals), { prefix: "/approvals" });
      await fastify.listen({ port: 0, host: "127.0.0.1" });
      const { port } = fastify.server.address() as AddressInfo;
      return { base: `http://127.0.0.1:${port}/approvals`, close: () => fastify.close() };
    }
    case "hono": {
      const app = new Hono();
      app.mount("/approvals", approvals.fetch);
      const server = await new Promise<Server>((resolve) => {
        const s = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(s as Server));
      });
      const { port } = server.address() as AddressInfo;
      return { base: `http://127.0.0.1:${port}/approvals`, close: () => closeServer(server) };
    }
  }
}

/** The reviewer's link path, derived as the worker would (the test knows the secret). */
export async function tokenFor(
  pool: pg.Pool,
  schema: string,
  secret: string,
  approvalId: string,
  reviewer: string,
): Promise<string> {
  const { rows } = await pool.query<{ nonce: Buffer }>(
    `select nonce from "${schema}".token where approval_id = $1 and reviewer = $2`,
    [approvalId, reviewer],
  );
  if (!rows[0]) throw new Error(`no token for ${reviewer}`);
  return deriveToken(secret, approvalId, reviewer, rows[0].nonce);
}
