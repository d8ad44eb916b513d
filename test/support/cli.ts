/** The built `countersign` bin, run against a test bed's schema as a user's shell would. */
import { fileURLToPath } from "node:url";
import { runToEnd } from "./child-process.ts";
import { PUBLIC_URL, TEST_SECRET, type TestBed } from "./test-bed.ts";

/** The built bin, as `npx countersign` runs it (npm test builds before testing). */
export const CLI_BIN = fileURLToPath(new URL("../../dist/cli/main.js", import.meta.url));

/** The environment a user sets for the bed's database and schema; no colour, as off a terminal. */
export const cliEnv = (bed: TestBed) => ({
  DATABASE_URL: bed.url,
  COUNTERSIGN_SCHEMA: bed.schema,
  COUNTERSIGN_SECRET: TEST_SECRET,
  COUNTERSIGN_PUBLIC_URL: PUBLIC_URL,
  NO_COLOR: "1",
});

/** Runs `countersign <args>` to its end: `{ code, stdout, stderr }`. */
export const cliFor =
  (bed: TestBed) =>
  (...args: string[]) =>
    runToEnd(CLI_BIN, args, cliEnv(bed));
