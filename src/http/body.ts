/** Request bodies: size-limited (413), type-checked (415), parsed into fields (400 when malformed). */
import { HttpError } from "./errors.ts";

/** Requests whose body the core read to its end; any other body leaves the connection unusable. */
const fullyRead = new WeakSet<Request>();
/** Requests whose body a host's body parser decoded and an adapter encoded again. */
const reencoded = new WeakSet<Request>();

export function markReencoded(request: Request): void {
  reencoded.add(request);
}

/** Something before the core (a host's body parser) already read the whole body from the connection. */
export function markAlreadyRead(request: Request): void {
  fullyRead.add(request);
}

/** The body is not the bytes the client sent (a signature over it cannot match). */
export function isReencoded(request: Request): boolean {
  return reencoded.has(request);
}

/** The request declared a body that nobody read: answering it must close the connection. */
export function leftUnread(request: Request): boolean {
  if (fullyRead.has(request)) return false;
  const length = request.headers.get("content-length");
  return request.headers.has("transfer-encoding") || (length !== null && length !== "0");
}

export function mediaType(request: Request): string {
  return (request.headers.get("content-type") ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
}

/** Reads the raw body, refusing more than `limit` bytes without buffering them. */
export async function readBody(request: Request, limit: number): Promise<Uint8Array> {
  const tooLarge = () =>
    new HttpError(413, "Request too large", `The request body is larger than ${limit} bytes. Send a shorter comment.`);
  const declared = Number(request.headers.get("content-length") ?? Number.NaN);
  if (declared > limit) throw tooLarge();
  if (!request.body) {
    fullyRead.add(request);
    return new Uint8Array();
  }
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) {
      fullyRead.add(request);
      break;
    }
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      throw tooLarge();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}

/** Form or JSON fields of a decision request. */
export function parseFields(body: Uint8Array, type: string): Record<string, unknown> {
  const text = Buffer.from(body).toString("utf8");
  if (type === "application/x-www-form-urlencoded") return Object.fromEntries(new URLSearchParams(text));
  if (type === "application/json") {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw new HttpError(400, "Please check your input", "The request body is not valid JSON.");
    }
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      throw new HttpError(
        400,
        "Please check your input",
        'The JSON body must be an object such as {"decision": "approve"}.',
      );
    }
    return value as Record<string, unknown>;
  }
  throw new HttpError(
    415,
    "Unsupported content type",
    `Send the decision as application/x-www-form-urlencoded or application/json${type ? `, not ${type}` : ""}.`,
  );
}
