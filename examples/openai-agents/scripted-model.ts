/**
 * The stand-in for the LLM, so the example runs without an API key or a network: the SDK's own
 * `ScriptedModel` (from `@openai/agents/testing`). In your app, delete this file and the agent's `model`
 * option: the agent then uses the SDK's default OpenAI model (and needs OPENAI_API_KEY).
 *
 * It plays a model that reads the conversation: with no tool result yet, it asks to pay the invoice;
 * once the tool call has a result (the bank's confirmation, or the reviewer's rejection message), it
 * reports on that result in its final answer.
 */
import { randomBytes } from "node:crypto";
import type { AgentInputItem } from "@openai/agents";
import {
  assistantMessage,
  functionCall,
  modelResponder,
  ScriptedModel,
  type RecordedModelCall,
} from "@openai/agents/testing";

export const INVOICE = {
  beneficiary: "Northwind Logistics GmbH",
  iban: "DE89370400440532013000",
  amount_eur: 48250,
  reference: "INV-2026-0417",
};

export const TASK = `Pay ${INVOICE.beneficiary}'s invoice ${INVOICE.reference}: ${INVOICE.amount_eur} EUR to IBAN ${INVOICE.iban}.`;

function respond(call: RecordedModelCall) {
  const input: AgentInputItem[] = typeof call.request.input === "string" ? [] : [...call.request.input];
  const result = input.findLast((item) => item.type === "function_call_result");
  if (!result) {
    // Unique per call, like a real model's call ids: the approval's idempotency key is derived from it.
    return [functionCall("send_wire_transfer", INVOICE, { callId: `call_${randomBytes(12).toString("hex")}` })];
  }
  const seen = outputText(result.output);
  const receipt = parseReceipt(seen);
  return [
    assistantMessage(
      receipt
        ? `Paid invoice ${INVOICE.reference}: ${INVOICE.amount_eur} EUR to ${INVOICE.beneficiary}, bank confirmation ${receipt.confirmation}.`
        : `I did not pay invoice ${INVOICE.reference}. The transfer was refused: ${seen}`,
    ),
  ];
}

/** One scripted step per model call: the tool call, then the answer after it. */
export function createTreasuryModel(): ScriptedModel {
  // A run resumed in a new process only needs the second; an unused step does no harm.
  return new ScriptedModel([modelResponder(respond), modelResponder(respond)]);
}

function outputText(output: unknown): string {
  if (typeof output === "string") return output;
  if (output && typeof output === "object" && "text" in output && typeof output.text === "string") return output.text;
  return JSON.stringify(output);
}

function parseReceipt(text: string): { confirmation: string } | undefined {
  try {
    const value: unknown = JSON.parse(text);
    if (value && typeof value === "object" && "confirmation" in value && typeof value.confirmation === "string") {
      return { confirmation: value.confirmation };
    }
  } catch {
    // Not JSON: a rejection message, written for the model to read.
  }
  return undefined;
}
