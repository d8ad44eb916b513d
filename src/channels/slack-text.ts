/** Slack's text objects, escaped: every text from users and agents goes through here. */
import { clip } from "../text.ts";

/** Slack's mrkdwn needs &, < and > escaped. */
export function escapeMrkdwn(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}

export const plain = (text: string, max = 150) => ({ type: "plain_text", text: clip(text, max), emoji: true });
export const mrkdwn = (text: string) => ({ type: "mrkdwn", text: clip(text, 3000) });
