import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { GENERATED_PATH, renderMigrationsModule } from "../../scripts/generate-migrations.ts";

describe("the generated migrations module", () => {
  it("matches sql/ (run `npm run generate` after changing a migration)", () => {
    expect(readFileSync(GENERATED_PATH, "utf8")).toBe(renderMigrationsModule());
  });
});
