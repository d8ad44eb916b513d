/**
 * A stand-in for Slack's Web API on loopback: answers the methods the Slack channel calls, records every
 * call as it arrived on the wire, and collects what is posted to interaction `response_url`s.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { signSlackRequest } from "../../src/security/signatures.ts";
import type { WireJson } from "./test-bed.ts";

interface SlackCall {
  method: string;
  authorization: string | undefined;
  contentType: string | undefined;
  /** Form fields; JSON-encoded ones (blocks, view) are parsed. */
  params: Record<string, WireJson>;
}

export interface SlackStandIn {
  apiUrl: string;
  responseUrl(name: string): string;
  calls: SlackCall[];
  responses: { name: string; body: WireJson }[];
  /** email → user id */
  users: Map<string, string>;
  /** The next `count` calls of `method` fail with this HTTP status. */
  failNext(method: string, count: number, status?: number): void;
  callsOf(method: string): SlackCall[];
  close(): Promise<void>;
}

const JSON_FIELDS = new Set(["blocks", "view", "attachments"]);

async function readBody(req: IncomingMessage): Promise<string> {
  let text = "";
  for await (const chunk of req) text += chunk;
  return text;
}

export async function startSlackStandIn(): Promise<SlackStandIn> {
  const calls: SlackCall[] = [];
  const responses: { name: string; body: WireJson }[] = [];
  const users = new Map<string, string>();
  const failures = new Map<string, { count: number; status: number }>();
  let ts = 1_700_000_000;

  const server: Server = createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    const text = await readBody(req);
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    if (url.pathname.startsWith("/respond/")) {
      responses.push({ name: url.pathname.slice("/respond/".length), body: JSON.parse(text) });
      return reply(200, { ok: true });
    }
    const method = url.pathname.replace(/^\/api\//, "");
    const params: Record<string, WireJson> = {};
    for (const [key, value] of new URLSearchParams(text))
      params[key] = JSON_FIELDS.has(key) ? JSON.parse(value) : value;
    calls.push({ method, authorization: req.headers.authorization, contentType: req.headers["content-type"], params });
    const failure = failures.get(method);
    if (failure && failure.count > 0) {
      failure.count--;
      return reply(failure.status, { ok: false, error: "fatal_error" });
    }
    switch (method) {
      case "users.lookupByEmail": {
        const id = users.get(String(params.email).toLowerCase());
        return reply(200, id ? { ok: true, user: { id } } : { ok: false, error: "users_not_found" });
      }
      case "users.info": {
        const email = [...users].find(([, id]) => id === params.user)?.[0];
        return reply(200, { ok: true, user: { id: params.user, profile: email ? { email } : {} } });
      }
      case "chat.postMessage": {
        const channel = String(params.channel);
        const id = channel.startsWith("U")
          ? `D${channel.slice(1)}`
          : channel.startsWith("#")
            ? `C${channel.slice(1).toUpperCase()}`
            : channel;
        return reply(200, { ok: true, channel: id, ts: `${ts++}.000100`, message: {} });
      }
      case "chat.update":
      case "views.open":
        return reply(200, { ok: true });
      default:
        return reply(200, { ok: false, error: "unknown_method" });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    apiUrl: `${base}/api/`,
    responseUrl: (name) => `${base}/respond/${name}`,
    calls,
    responses,
    users,
    failNext: (method, count, status = 500) => failures.set(method, { count, status }),
    callsOf: (method) => calls.filter((call) => call.method === method),
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** A request as Slack would send it to the interactivity URL, signed with `signingSecret`. */
export function slackInteraction(
  signingSecret: string,
  payload: unknown,
  options: { timestamp?: number; signature?: string } = {},
): { headers: Record<string, string>; body: string } {
  const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000);
  const body = new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
  return {
    body,
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      "x-slack-request-timestamp": String(timestamp),
      "x-slack-signature": options.signature ?? signSlackRequest(signingSecret, timestamp, body),
    },
  };
}
