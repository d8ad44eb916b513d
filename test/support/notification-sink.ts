/**
 * An HTTP server that receives notifications as worker processes POST them. It counts only the ones it
 * answered (a request cut off by a killed worker was never delivered), and can hold requests open so a
 * test can catch a worker mid-delivery.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

interface SinkRequest {
  key: string;
  kind: string;
  reviewer: string;
  approvalId: string;
  worker: string;
}

export interface NotificationSink {
  url: string;
  /** Every request that arrived, answered or not. */
  arrived: SinkRequest[];
  /** Requests answered 200: notifications delivered. */
  delivered: SinkRequest[];
  /** While set, requests are held open instead of answered; `release()` answers them. */
  hold(on: boolean): void;
  release(): void;
  /** The next `count` requests are answered with `status` (a failing receiver). */
  failNext(count: number, status?: number): void;
  /** Times each (key, reviewer) pair was delivered. */
  deliveryCounts(): Map<string, number>;
  close(): Promise<void>;
}

export async function startNotificationSink(): Promise<NotificationSink> {
  const arrived: SinkRequest[] = [];
  const delivered: SinkRequest[] = [];
  let holding = false;
  let failures = { count: 0, status: 500 };
  const held: { request: SinkRequest; res: ServerResponse }[] = [];
  const answer = (request: SinkRequest, res: ServerResponse) => {
    if (res.destroyed) return;
    res.end("ok", () => delivered.push(request));
  };
  const server = createServer(async (req: IncomingMessage, res) => {
    let text = "";
    for await (const chunk of req) text += chunk;
    const request = { ...(JSON.parse(text) as Omit<SinkRequest, "worker">), worker: String(req.headers["x-worker"]) };
    arrived.push(request);
    if (failures.count > 0) {
      failures.count--;
      res.statusCode = failures.status;
      return res.end("failing on purpose");
    }
    if (holding) return void held.push({ request, res });
    answer(request, res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    arrived,
    delivered,
    hold: (on) => {
      holding = on;
    },
    release: () => {
      for (const { request, res } of held.splice(0)) answer(request, res);
    },
    failNext: (count, status = 500) => {
      failures = { count, status };
    },
    deliveryCounts() {
      const counts = new Map<string, number>();
      for (const d of delivered) counts.set(`${d.key}|${d.reviewer}`, (counts.get(`${d.key}|${d.reviewer}`) ?? 0) + 1);
      return counts;
    },
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
