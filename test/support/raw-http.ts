/** Raw HTTP/1.1 over a TCP socket, for requests no client library would send. */
import { connect, type Socket } from "node:net";

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Parses as many complete responses as `text` holds (Content-Length or chunked bodies; none for HEAD). */
function parseResponses(text: string, methods: string[]): { responses: RawResponse[]; rest: string } {
  const responses: RawResponse[] = [];
  let rest = text;
  for (;;) {
    const end = rest.indexOf("\r\n\r\n");
    if (end < 0) break;
    const [statusLine, ...lines] = rest.slice(0, end).split("\r\n");
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(":");
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const status = Number(statusLine?.split(" ")[1]);
    const body = rest.slice(end + 4);
    if (methods[responses.length] === "HEAD" || status === 204 || status === 304) {
      responses.push({ status, headers, body: "" });
      rest = body;
      continue;
    }
    if (headers["transfer-encoding"] === "chunked") {
      let decoded = "";
      let cursor = 0;
      let complete = false;
      for (;;) {
        const lineEnd = body.indexOf("\r\n", cursor);
        if (lineEnd < 0) break;
        const size = Number.parseInt(body.slice(cursor, lineEnd), 16);
        if (size === 0) {
          cursor = lineEnd + 4;
          complete = true;
          break;
        }
        if (body.length < lineEnd + 2 + size + 2) break;
        decoded += body.slice(lineEnd + 2, lineEnd + 2 + size);
        cursor = lineEnd + 2 + size + 2;
      }
      if (!complete) break;
      responses.push({ status, headers, body: decoded });
      rest = body.slice(cursor);
      continue;
    }
    const length = Number(headers["content-length"] ?? 0);
    if (Buffer.byteLength(body) < length) break;
    responses.push({ status, headers, body: body.slice(0, length) });
    rest = body.slice(length);
  }
  return { responses, rest };
}

export interface RawConnection {
  socket: Socket;
  /** Writes bytes as they are. */
  write(data: string | Buffer): void;
  /** Resolves with the next complete response, or rejects when the socket closes first or after `timeoutMs`. */
  response(timeoutMs?: number): Promise<RawResponse>;
  /** Resolves once the server has closed the connection. */
  closed: Promise<{ hadError: boolean }>;
  close(): void;
}

export function rawConnection(port: number): Promise<RawConnection> {
  /** Methods of the requests written and not yet answered, to know which answers carry no body. */
  const pending: string[] = [];
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let buffer = "";
    const ready: RawResponse[] = [];
    const waiters: { resolve: (r: RawResponse) => void; reject: (e: Error) => void }[] = [];
    let ended = false;
    const closed = new Promise<{ hadError: boolean }>((done) => {
      socket.on("close", (hadError) => {
        ended = true;
        for (const waiter of waiters.splice(0))
          waiter.reject(new Error("the server closed the connection without a response"));
        done({ hadError });
      });
    });
    socket.on("error", () => {});
    socket.on("data", (chunk) => {
      buffer += chunk.toString("latin1");
      const { responses, rest } = parseResponses(buffer, pending);
      pending.splice(0, responses.length);
      buffer = rest;
      ready.push(...responses);
      while (ready.length > 0 && waiters.length > 0) waiters.shift()?.resolve(ready.shift() as RawResponse);
    });
    socket.once("connect", () =>
      resolve({
        socket,
        write: (data) => {
          const text = data.toString("latin1");
          for (const match of text.matchAll(/(?:^|\r\n\r\n|\n\n)([A-Z]+) \S+ HTTP\/1\.[01]/g))
            pending.push(match[1] ?? "");
          socket.write(data);
        },
        response(timeoutMs = 10_000) {
          const next = ready.shift();
          if (next) return Promise.resolve(next);
          if (ended) return Promise.reject(new Error("the connection is closed"));
          return new Promise((done, fail) => {
            const timer = setTimeout(() => fail(new Error(`no response within ${timeoutMs} ms`)), timeoutMs);
            waiters.push({
              resolve: (r) => {
                clearTimeout(timer);
                done(r);
              },
              reject: (e) => {
                clearTimeout(timer);
                fail(e);
              },
            });
          });
        },
        closed,
        close: () => socket.destroy(),
      }),
    );
    socket.once("error", reject);
  });
}

/** Sends one raw request on a fresh connection and returns the response (or the reason there was none). */
export async function rawRequest(port: number, text: string | Buffer, timeoutMs = 10_000): Promise<RawResponse> {
  const connection = await rawConnection(port);
  try {
    connection.write(text);
    return await connection.response(timeoutMs);
  } finally {
    connection.close();
  }
}
