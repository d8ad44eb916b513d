/**
 * The report agent as a langchain `createAgent`: it writes the Q1 update for the board and calls its
 * `send_email` tool, which `humanInTheLoopMiddleware` holds for a person to approve, edit or reject.
 * Shared by main.ts and the smoke test, which reads the checkpointed state of a paused thread through it.
 */
import type { BaseChatModel } from "@langchain/core/language_models/chat_models";
import type { BaseCheckpointSaver } from "@langchain/langgraph";
import {
  AIMessage,
  type BaseMessage,
  createAgent,
  fakeModel,
  humanInTheLoopMiddleware,
  ToolMessage,
  tool,
} from "langchain";
import { z } from "zod";

const BOARD = "board@company.com";
export const CFO = "cfo@company.com";
/** Who reviews this agent's tool calls, and the approval type `resumeOnDecision` listens to. */
export const REVIEW = {
  type: "report.board_email.v1",
  requestedBy: "agent://myorg/production/report-writer",
  reviewers: [CFO],
};
export const BRIEF = "Email the board the Q1 financial summary.";

const Email = z.object({ to: z.string(), subject: z.string(), body: z.string() });
export type Email = z.infer<typeof Email>;

export interface ReportAgentOptions {
  model: BaseChatModel;
  /** Shared by every process (a `PostgresSaver`), so any of them can resume a paused thread. */
  checkpointer: BaseCheckpointSaver;
  /** The action the CFO must approve first. */
  sendEmail(email: Email): Promise<void>;
}

export function createReportAgent({ model, checkpointer, sendEmail }: ReportAgentOptions) {
  const send = tool(
    async (email) => {
      await sendEmail(email);
      return `Sent "${email.subject}" to ${email.to}.`;
    },
    { name: "send_email", description: "Send an email from the finance team", schema: Email },
  );
  return createAgent({
    model,
    tools: [send],
    systemPrompt: "You write short, factual emails from the finance team to the board, and send them.",
    checkpointer,
    middleware: [
      humanInTheLoopMiddleware({
        interruptOn: {
          send_email: { allowedDecisions: ["approve", "edit", "reject"], description: "Email the board" },
        },
      }),
    ],
  });
}

/**
 * Stands in for a real chat model (ChatOpenAI, ChatAnthropic, …): scripted, so no key and no network. It
 * answers from the conversation so far, as a real model would, so a new process resumes it mid-thread.
 */
export function scriptedModel(): BaseChatModel {
  const turn = (messages: BaseMessage[]) => {
    const last = messages.at(-1);
    if (!ToolMessage.isInstance(last)) {
      const body =
        "Dear board, Q1 closed with revenue of 4.2M EUR, costs of 3.1M EUR and net income of 1.1M EUR. " +
        "The full summary is attached. Kind regards, Finance";
      const args = { to: BOARD, subject: "Q1 financial summary", body };
      return new AIMessage({ content: "", tool_calls: [{ id: "call_send_email", name: "send_email", args }] });
    }
    return new AIMessage(last.status === "error" ? `Not sent: ${last.text}` : `Done. ${last.text}`);
  };
  return fakeModel().respond(turn).respond(turn).respond(turn).respond(turn);
}
