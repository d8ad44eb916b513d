/**
 * `npm pack` ships package.json as it is on disk. The published one carries nothing for contributors:
 * no scripts (npm 11 warns on install about a package's `prepare`), dev dependencies, workspaces or
 * `allowScripts`. `prepack` runs `strip`, which writes that manifest and keeps the full one aside;
 * `postpack` runs `restore`, which puts the full one back.
 *
 * `npm publish` from the directory would send the full manifest to the registry as the version's
 * metadata, so `prepublishOnly` runs `refuse`: releases publish the packed tarball (`npm pack`, then
 * `npm publish countersign-<version>.tgz`), the same bytes the package test installs.
 */
import { copyFileSync, existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const CONTRIBUTOR_FIELDS = ["scripts", "devDependencies", "workspaces", "allowScripts"] as const;

const manifest = fileURLToPath(new URL("../package.json", import.meta.url));
const kept = fileURLToPath(new URL("../.package.json.full", import.meta.url));

/** A pack that failed between strip and restore left the full manifest aside: put it back first. */
function restore(): void {
  if (existsSync(kept)) renameSync(kept, manifest);
}

function strip(): void {
  restore();
  copyFileSync(manifest, kept);
  const pkg = JSON.parse(readFileSync(manifest, "utf8")) as Record<string, unknown>;
  for (const field of CONTRIBUTOR_FIELDS) delete pkg[field];
  writeFileSync(manifest, `${JSON.stringify(pkg, null, 2)}\n`);
}

const command = process.argv[2];
if (command === "strip") strip();
else if (command === "restore") restore();
else if (command === "refuse") {
  process.stderr.write(
    "Publish the packed tarball instead: `npm pack`, then `npm publish countersign-<version>.tgz`.\n",
  );
  process.exitCode = 1;
} else {
  process.stderr.write("usage: node scripts/publish-manifest.ts strip|restore|refuse\n");
  process.exitCode = 2;
}
