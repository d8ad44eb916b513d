/**
 * The README is also the package's page on the npm registry, where relative links and images break:
 * every link must be absolute, and those into the repository must point at something that exists.
 */
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../../", import.meta.url));
const readme = readFileSync(`${root}README.md`, "utf8");
const pkg = JSON.parse(readFileSync(`${root}package.json`, "utf8"));
const repository = String(pkg.repository.url)
  .replace(/^git\+/, "")
  .replace(/\.git$/, "");
const raw = repository.replace("https://github.com/", "https://raw.githubusercontent.com/");

const links = [...readme.matchAll(/\]\(([^)\s]+)\)|(?:src|href)="([^"]+)"/g)].map((m) => (m[1] ?? m[2])!);

describe("the README as the registry shows it", () => {
  it("opens with the user's install command, and only later has the contributor's commands", () => {
    const install = readme.indexOf("npm install countersign");
    expect(install).toBeGreaterThan(0);
    expect(install).toBeLessThan(readme.indexOf("npm ci"));
    expect(readme.indexOf("## A first approval")).toBeLessThan(readme.indexOf("## Contributing"));
  });

  it("links and embeds only absolute URLs", () => {
    expect(links.length).toBeGreaterThan(10);
    for (const link of links) expect(link, link).toMatch(/^https:\/\//);
  });

  it("points into the repository only at files that exist", () => {
    const inRepository = links.flatMap((link) => {
      const path = link.startsWith(`${raw}/main/`)
        ? link.slice(`${raw}/main/`.length)
        : /^\/(?:tree|blob)\/main\/(.+)$/.exec(link.startsWith(repository) ? link.slice(repository.length) : "")?.[1];
      return path === undefined ? [] : [path];
    });
    expect(inRepository).toEqual(
      expect.arrayContaining(["docs/approval-page.png", "examples/report-agent", "bench/results.md"]),
    );
    for (const path of inRepository) expect(existsSync(`${root}${path.replace(/#.*$/, "")}`), path).toBe(true);
  });

  it("names the repository, its issues and its licence in package.json, and ships the licence", () => {
    expect(repository).toMatch(/^https:\/\/github\.com\/[\w.-]+\/[\w.-]+$/);
    expect(pkg.homepage).toBe(`${repository}#readme`);
    expect(pkg.bugs).toEqual({ url: `${repository}/issues` });
    expect(pkg.keywords).toEqual(expect.arrayContaining(["approval", "human-in-the-loop"]));
    expect(pkg.license).toBe("MIT");
    expect(readFileSync(`${root}LICENSE`, "utf8")).toMatch(/^MIT License\n/);
    expect(pkg.files).toContain("LICENSE");
  });
});
