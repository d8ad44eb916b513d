/** A host app as the README shows it: `http.createServer(approvals.nodeHandler)`. Prints its port. */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createApprovals } from "../../../src/index.ts";

const approvals = createApprovals({
  connectionString: process.env.DATABASE_URL,
  schema: process.env.COUNTERSIGN_SCHEMA,
  publicUrl: "https://app.example.test/approvals",
  secret: process.env.COUNTERSIGN_SECRET ?? "",
});
const server = createServer(approvals.nodeHandler);
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
});
