/**
 * The oldest Node.js countersign supports. The library is built and tested on nothing older (CI runs the
 * repository's pinned Node 24; the floor is what `engines` promises), so an older runtime is refused up
 * front with a message that says what to install, instead of failing later in some less obvious way.
 */
import { ApprovalError, ERROR_CODES } from "./errors.ts";

/** Keep in step with `engines.node` in package.json (a test checks). */
export const NODE_FLOOR = "22.18.0";

const parts = (version: string) =>
  version
    .replace(/^v/, "")
    .split(".")
    .map((part) => Number.parseInt(part, 10) || 0);

function isOlder(version: string, than: string): boolean {
  const [a, b] = [parts(version), parts(than)];
  for (let i = 0; i < 3; i++) {
    if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) < (b[i] ?? 0);
  }
  return false;
}

/** Throws UNSUPPORTED_RUNTIME on a Node.js older than {@link NODE_FLOOR}. */
export function assertSupportedNode(version: string = process.versions.node): void {
  if (!isOlder(version, NODE_FLOOR)) return;
  throw new ApprovalError(
    ERROR_CODES.UNSUPPORTED_RUNTIME,
    `countersign needs Node.js ${NODE_FLOOR} or newer; this process runs Node.js ${version}. Upgrade Node (for example to the current LTS).`,
    { node: version, required: NODE_FLOOR },
  );
}
