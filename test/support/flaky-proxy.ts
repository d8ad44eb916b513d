/**
 * A TCP front for a real server that misbehaves on purpose, connection by connection: `stall` accepts and
 * never answers (the client must time out), `reset` hangs up at once, `pass` forwards to the real server.
 * Connections beyond the plan pass. `refuseUntil` keeps the port closed (ECONNREFUSED) until called.
 */
import { connect, createServer, type Server, type Socket } from "node:net";
import { freePort } from "./embedded-postgres.ts";

export type ConnectionFate = "stall" | "reset" | "pass";

export interface FlakyProxy {
  port: number;
  /** Fates of connections so far, in order. */
  fates: ConnectionFate[];
  /** The local ports of the connections it opened to the real server (what the server sees as the client's). */
  upstreamPorts: number[];
  /** Starts accepting (for a proxy created with `closed: true`). */
  open(): Promise<void>;
  close(): Promise<void>;
}

export async function startFlakyProxy(
  targetPort: number,
  plan: ConnectionFate[],
  options: { closed?: boolean } = {},
): Promise<FlakyProxy> {
  const port = await freePort();
  const fates: ConnectionFate[] = [];
  const upstreamPorts: number[] = [];
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  const open = () =>
    new Promise<void>((resolve) => {
      server = createServer((socket) => {
        sockets.add(socket);
        socket.on("close", () => sockets.delete(socket));
        socket.on("error", () => {});
        const fate = plan[fates.length] ?? "pass";
        fates.push(fate);
        if (fate === "reset") return socket.destroy();
        if (fate === "stall") return; // say nothing, read nothing
        const upstream = connect(targetPort, "127.0.0.1", () => {
          if (upstream.localPort !== undefined) upstreamPorts.push(upstream.localPort);
        });
        sockets.add(upstream);
        upstream.on("error", () => socket.destroy());
        upstream.on("close", () => sockets.delete(upstream));
        socket.pipe(upstream).pipe(socket);
      });
      server.listen(port, "127.0.0.1", () => resolve());
    });
  if (!options.closed) await open();
  return {
    port,
    fates,
    upstreamPorts,
    open,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        if (!server) return resolve();
        server.close(() => resolve());
      }),
  };
}
