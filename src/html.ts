/**
 * A tagged template for HTML: every interpolated value is escaped with `escape-html` unless it is itself
 * the result of `html`, so fragments compose without double escaping and user data never goes in raw.
 */
import escapeHtml from "escape-html";

export class SafeHtml {
  readonly value: string;
  constructor(value: string) {
    this.value = value;
  }
  toString(): string {
    return this.value;
  }
}

export type Interpolation = SafeHtml | string | number | boolean | null | undefined | readonly Interpolation[];

function render(value: Interpolation): string {
  if (value instanceof SafeHtml) return value.value;
  if (Array.isArray(value)) return value.map(render).join("");
  if (value === null || value === undefined || value === false) return "";
  return escapeHtml(String(value));
}

export function html(strings: TemplateStringsArray, ...values: Interpolation[]): SafeHtml {
  let out = strings[0] ?? "";
  values.forEach((value, index) => {
    out += render(value) + (strings[index + 1] ?? "");
  });
  return new SafeHtml(out);
}

/** Our own constant markup or CSS, inserted verbatim. Never pass user data. */
export function trusted(constant: string): SafeHtml {
  return new SafeHtml(constant);
}
