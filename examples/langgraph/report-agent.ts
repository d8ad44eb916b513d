/**
 * A LangGraph.js graph that drafts the quarterly update for the board, asks the CFO through countersign,
 * pauses with `interrupt()`, and sends the email only once the CFO approves. Shared by main.ts and the
 * smoke test, which reads the checkpointed state of a paused thread through the same graph.
 */
import type { BaseChatModel } from "@langchain/core/language_models/chat_models";
import {
  Command,
  END,
  START,
  StateGraph,
  StateSchema,
  interrupt,
  type BaseCheckpointSaver,
  type GraphNode,
} from "@langchain/langgraph";
import type { Approvals } from "countersign";
import { z } from "zod";

export const BOARD = "board@company.com";
export const CFO = "cfo@company.com";

/**
 * What the graph is resumed with. main.ts passes countersign's whole `Decision`; parsing it here keeps
 * the fields the graph uses and refuses a resume value that is not a decision.
 */
export const Verdict = z.object({
  approved: z.boolean(),
  status: z.enum(["approved", "rejected", "timed_out", "cancelled"]),
  decidedBy: z.string().nullable(),
  comment: z.string().nullable(),
});
export type Verdict = z.infer<typeof Verdict>;

/** The value the graph pauses with: the caller waits on this approval, then resumes the thread. */
export interface ApprovalInterrupt {
  approvalId: string;
  reviewers: string[];
}

export const ReportState = new StateSchema({
  /** What the user asked the agent to do. */
  brief: z.string(),
  /** The model's draft of the email to the board. */
  email: z.string().optional(),
  approvalId: z.string().optional(),
  verdict: Verdict.optional(),
  sentTo: z.string().optional(),
});

export interface ReportGraphOptions {
  approvals: Approvals;
  model: BaseChatModel;
  checkpointer: BaseCheckpointSaver;
  /** The action the CFO must approve first. */
  sendEmail(email: { to: string; body: string }): Promise<void>;
}

export function createReportGraph({ approvals, model, checkpointer, sendEmail }: ReportGraphOptions) {
  const draft: GraphNode<typeof ReportState> = async (state) => {
    const reply = await model.invoke([
      ["system", "You write short, factual emails from the finance team to the board."],
      ["human", state.brief],
    ]);
    return { email: reply.text };
  };

  const approve: GraphNode<typeof ReportState, Record<string, unknown>, "send" | typeof END> = async (
    state,
    config,
  ) => {
    const threadId = config.configurable?.thread_id;
    if (typeof threadId !== "string") throw new Error("run the graph with configurable.thread_id (and a checkpointer)");
    // On resume LangGraph runs this node again from the top, so this call runs twice. The key (one per
    // thread and node) makes the second call return the approval the first one created, not a new one.
    const approval = await approvals.requestApproval({
      type: "report.board_email.v1",
      title: "Q1 update to the board",
      payload: { to: BOARD, body: state.email ?? "" },
      requestedBy: "agent://myorg/production/langgraph-report-writer",
      reviewers: [CFO],
      timeout: { after: "8h", action: "reject" },
      idempotencyKey: `${threadId}:approve`,
    });
    console.log(`[approve] approval ${approval.id} is ${approval.status}`);
    // Pauses the first time (the checkpointer saves the thread); returns the resume value the second.
    const verdict = interrupt<ApprovalInterrupt, Verdict>(
      { approvalId: approval.id, reviewers: [CFO] },
      { responseSchema: Verdict },
    );
    return new Command({ update: { approvalId: approval.id, verdict }, goto: verdict.approved ? "send" : END });
  };

  const send: GraphNode<typeof ReportState> = async (state) => {
    await sendEmail({ to: BOARD, body: state.email ?? "" });
    return { sentTo: BOARD };
  };

  return new StateGraph(ReportState)
    .addNode("draft", draft)
    .addNode("approve", approve, { ends: ["send", END] })
    .addNode("send", send)
    .addEdge(START, "draft")
    .addEdge("draft", "approve")
    .addEdge("send", END)
    .compile({ checkpointer });
}
