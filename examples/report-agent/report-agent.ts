/**
 * The seed scenario: an agent writes the quarterly financial report, asks the CFO to review it, pauses
 * until the CFO decides, then emails the board (or does not). Shared by main.ts and `npm run demo`.
 */
import type { Approval, Approvals, Decision } from "countersign";

export interface Report {
  report: string;
  period: string;
  revenue: string;
  costs: string;
  net_income: string;
  pii_detected: boolean;
}

export function generateQuarterlyReport(): Report {
  return {
    report: "Q1 Financial Summary",
    period: "2026-01-01 to 2026-03-31",
    revenue: "4,200,000 EUR",
    costs: "3,100,000 EUR",
    net_income: "1,100,000 EUR",
    pii_detected: false,
  };
}

export interface ReportAgentHooks {
  /** Called once the approval exists and the agent pauses. */
  paused?(approval: Approval): void;
  /** The agent's action once approved. */
  emailTheBoard(report: Report): Promise<void>;
}

export async function runReportAgent(
  approvals: Approvals,
  hooks: ReportAgentHooks,
  options: { reminders?: string[]; idempotencyKey?: string } = {},
): Promise<Decision> {
  const report = generateQuarterlyReport();
  const approval = await approvals.requestApproval({
    type: "report.review_approval.v1",
    title: report.report,
    payload: { ...report },
    requestedBy: "agent://myorg/production/report-generator",
    reviewers: ["cfo@company.com"],
    escalation: [["cfo-deputy@company.com"]],
    ...(options.reminders ? { reminders: options.reminders } : {}),
    timeout: { after: "8h", action: "reject" },
    // Keyed by the report, so an agent that restarts asks about the same approval instead of a new one.
    idempotencyKey: options.idempotencyKey ?? `board-report:${report.report}:${report.period}`,
  });
  hooks.paused?.(approval);
  const decision = await approvals.waitForDecision(approval.id);
  if (decision.approved) await hooks.emailTheBoard(report);
  return decision;
}
