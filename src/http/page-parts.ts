/** Pieces of the approval page that a batch's action cards share with the page itself. */
import { type EditableField, fieldText } from "../domain/editable.ts";
import type { JsonValue } from "../domain/types.ts";
import { html, type SafeHtml } from "../html.ts";
import { humanDate } from "../text.ts";

export const when = (date: Date) => html`<time datetime="${date.toISOString()}">${humanDate(date)}</time>`;

function fieldValue(value: JsonValue): SafeHtml {
  if (Array.isArray(value) && value.every((item) => item === null || typeof item !== "object")) {
    return html`${value.map(String).join(", ")}`;
  }
  if (value !== null && typeof value === "object") return html`<pre>${JSON.stringify(value, null, 2)}</pre>`;
  return html`${String(value)}`;
}

export function payloadBlock(payload: JsonValue): SafeHtml {
  if (payload !== null && typeof payload === "object" && !Array.isArray(payload)) {
    const entries = Object.entries(payload);
    if (entries.length === 0) return html`<p class="meta">No details were attached.</p>`;
    return html`<dl>${entries.map(([key, value]) => html`<dt>${key}</dt><dd>${fieldValue(value)}</dd>`)}</dl>`;
  }
  return html`<pre>${JSON.stringify(payload, null, 2)}</pre>`;
}

/** One editable field as a typed input; `name` is what the form posts it as. */
export function fieldInput(field: EditableField, name = `edit.${field.field}`): SafeHtml {
  const id = name.replaceAll(".", "-");
  const value = fieldText(field);
  const control = (() => {
    switch (field.input) {
      case "number":
      case "integer":
        return html`<input id="${id}" name="${name}" type="number" step="${field.input === "integer" ? "1" : "any"}" value="${value}" inputmode="decimal">`;
      case "boolean":
        return html`<select id="${id}" name="${name}">${["true", "false"].map(
          (option) =>
            html`<option value="${option}"${option === value ? html` selected` : ""}>${option === "true" ? "Yes" : "No"}</option>`,
        )}</select>`;
      case "select":
        return html`<select id="${id}" name="${name}">${field.options.map((option) => {
          const text = typeof option === "string" ? option : JSON.stringify(option);
          return html`<option value="${text}"${text === value ? html` selected` : ""}>${text}</option>`;
        })}</select>`;
      case "json":
        return html`<textarea id="${id}" name="${name}">${value}</textarea>`;
      default:
        return html`<input id="${id}" name="${name}" type="text" value="${value}">`;
    }
  })();
  return html`<div class="field"><label for="${id}">${field.field}</label>${control}</div>`;
}
