/**
 * Text shortened for places with a size limit (Slack blocks, e-mail, terminal tables). Everything that
 * clips goes through here, so a cut never lands inside a surrogate pair, an emoji sequence or a letter
 * with its combining marks: a half emoji renders as a replacement character, or breaks Slack's JSON.
 */

const graphemes = new Intl.Segmenter(undefined, { granularity: "grapheme" });

/**
 * `text` when it has at most `max` UTF-16 code units (the unit JavaScript and Slack's limits count),
 * else the longest run of whole graphemes that fits with a trailing "…".
 */
export function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  const budget = max - 1;
  let end = 0;
  // Segments come lazily, so a long text is only walked up to the cut.
  for (const { index, segment } of graphemes.segment(text)) {
    if (index + segment.length > budget) break;
    end = index + segment.length;
  }
  return `${text.slice(0, end)}…`;
}

/** A payload field's value as one line of text: strings as they are, everything else as JSON. */
export function fieldText(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}

/** "+1 more field", "+6 more fields": said wherever a list of payload fields was cut short. */
export function moreFields(omitted: number): string {
  return `+${omitted} more field${omitted === 1 ? "" : "s"}`;
}

const dateFormat = new Intl.DateTimeFormat("en-GB", { dateStyle: "medium", timeStyle: "short", timeZone: "UTC" });

/** A date as people read it in mail and on the page: "25 Nov 2026, 14:30 UTC". */
export function humanDate(date: Date): string {
  return `${dateFormat.format(date)} UTC`;
}
