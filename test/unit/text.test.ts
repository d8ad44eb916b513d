import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { clip, moreFields } from "../../src/text.ts";

const graphemes = (text: string) =>
  [...new Intl.Segmenter(undefined, { granularity: "grapheme" }).segment(text)].map((s) => s.segment);

describe("clip", () => {
  it("leaves text that fits alone", () => {
    expect(clip("Q1 report", 9)).toBe("Q1 report");
  });

  it("never cuts a surrogate pair, an emoji sequence or a letter from its combining mark", () => {
    // "👍" is two UTF-16 units; a cut after 4 units would leave half of it.
    expect(clip("abc👍def", 5)).toBe("abc…");
    expect(clip("ok 👩‍👩‍👧‍👦 family", 8)).toBe("ok …");
    expect(clip("ok 🇫🇷 flag", 6)).toBe("ok …");
    expect(clip("cafe\u0301 au lait", 5)).toBe("caf…");
    expect(clip("cafe\u0301 au lait", 6)).toBe("cafe\u0301…");
  });

  it("always returns whole graphemes of the text within the limit, for any text", () => {
    fc.assert(
      fc.property(
        fc.string({ unit: "grapheme-composite", maxLength: 40 }),
        fc.integer({ min: 1, max: 60 }),
        (text, max) => {
          const clipped = clip(text, max);
          expect(clipped.length).toBeLessThanOrEqual(max);
          expect(clipped.isWellFormed()).toBe(true);
          if (clipped === text) return;
          const kept = clipped.slice(0, -1);
          expect(clipped.endsWith("…")).toBe(true);
          expect(graphemes(text).slice(0, graphemes(kept).length).join("")).toBe(kept);
        },
      ),
    );
  });

  it("counts what was left out", () => {
    expect(moreFields(1)).toBe("+1 more field");
    expect(moreFields(6)).toBe("+6 more fields");
  });
});
