/**
 * countersign/openai-agents against the real SDK (@openai/agents, with its own ScriptedModel standing in
 * for the LLM) and real Postgres: a run's interruptions become one batch and its decision goes back
 * onto the RunState.
 */
import { randomBytes } from "node:crypto";
import { Agent, run, setTracingDisabled, tool, type AgentInputItem } from "@openai/agents";
import {
  assistantMessage,
  functionCall,
  modelResponder,
  ScriptedModel,
  type RecordedModelCall,
} from "@openai/agents/testing";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import {
  applyDecision,
  OPENAI_AGENTS_APPROVAL_TYPE,
  requestRunApprovals,
  restoreRun,
  resumeOnDecision,
  RUN_STATE_METADATA_KEY,
  type RunResumeContext,
} from "../../src/adapters/openai-agents.ts";
import { ValidationError, type Decision } from "../../src/index.ts";
import { eventually, useTestBed } from "../support/test-bed.ts";

setTracingDisabled(true);
const bed = useTestBed("adapter_openai_agents");
const CFO = "cfo@company.com";
const REASON = "Northwind's IBAN changed in March; confirm it by phone first.";
const TASK = "Pay Northwind's invoice INV-0417, then remove the old supplier Contoso.";

type CallResult = Extract<AgentInputItem, { type: "function_call_result" }>;

function outputText(output: CallResult["output"]): string {
  if (typeof output === "string") return output;
  if (!Array.isArray(output) && "text" in output && typeof output.text === "string") return output.text;
  return JSON.stringify(output);
}

/** The model: asks for both tools at once, then answers with every tool result it was given. */
function respond(call: RecordedModelCall) {
  const input = typeof call.request.input === "string" ? [] : call.request.input;
  const results = input.filter((item): item is CallResult => item.type === "function_call_result");
  if (results.length === 0) {
    const id = () => `call_${randomBytes(12).toString("hex")}`;
    return [
      functionCall("pay_invoice", { invoice: "INV-0417", amount_eur: 48250 }, { callId: id() }),
      functionCall("remove_supplier", { supplier: "Contoso" }, { callId: id() }),
    ];
  }
  return [assistantMessage(results.map((result) => `${result.name}: ${outputText(result.output)}`).join("\n"))];
}

/** A treasury agent with two tools that need approval; `ran` lists the tools that actually ran. */
function treasury() {
  const ran: string[] = [];
  const model = new ScriptedModel(Array.from({ length: 4 }, () => modelResponder(respond)));
  const payInvoice = tool({
    name: "pay_invoice",
    description: "Pay a supplier invoice by wire transfer.",
    parameters: z.object({ invoice: z.string(), amount_eur: z.number() }),
    needsApproval: true,
    execute: async ({ invoice }) => {
      ran.push("pay_invoice");
      return `paid ${invoice}`;
    },
  });
  const removeSupplier = tool({
    name: "remove_supplier",
    description: "Remove a supplier and its bank details.",
    parameters: z.object({ supplier: z.string() }),
    needsApproval: true,
    execute: async ({ supplier }) => {
      ran.push("remove_supplier");
      return `removed ${supplier}`;
    },
  });
  const agent = new Agent({ name: "Treasury agent", model, tools: [payInvoice, removeSupplier] });
  return { agent, model, ran };
}

const ASK = { requestedBy: "agent://treasury", reviewers: [CFO], reminders: [] };

/** A run paused at both tool calls, and its batch. */
async function pausedRun(options: { type?: string } = {}) {
  const { agent, ran } = treasury();
  const result = await run(agent, TASK);
  const approval = await requestRunApprovals(bed.approvals, result, { ...ASK, ...options });
  const [pay, remove] = result.interruptions.map((call) => ("callId" in call.rawItem ? call.rawItem.callId : ""));
  return { agent, ran, result, approval, pay: pay ?? "", remove: remove ?? "" };
}

const approveOneRejectOther = (pay: string, remove: string) => ({
  reviewer: CFO,
  actions: { [pay]: { outcome: "approve" as const }, [remove]: { outcome: "reject" as const, comment: REASON } },
});

describe("countersign/openai-agents", () => {
  it("asks about every tool call the run stopped at in one batch, with the run state in its metadata", async () => {
    const { result, approval, pay, remove, ran } = await pausedRun();
    expect(result.interruptions).toHaveLength(2);
    expect(approval).toMatchObject({
      status: "pending",
      type: OPENAI_AGENTS_APPROVAL_TYPE,
      title: "Treasury agent wants to make 2 tool calls: pay_invoice, remove_supplier",
      requestedBy: "agent://treasury",
    });
    expect(approval.actions).toMatchObject([
      {
        id: pay,
        name: "pay_invoice",
        description: "Pay a supplier invoice by wire transfer.",
        input: { invoice: "INV-0417", amount_eur: 48250 },
        editable: [],
        outcome: "pending",
      },
      { id: remove, name: "remove_supplier", input: { supplier: "Contoso" }, editable: [], outcome: "pending" },
    ]);
    const stored = (await bed.approvals.get(approval.id)).metadata?.[RUN_STATE_METADATA_KEY];
    expect(stored).toBe(result.state.toString());
    expect(ran).toEqual([]);
  });

  it("resumes with only the approved call run, and the model reads the rejection's reason", async () => {
    const { approval, pay, remove } = await pausedRun();
    await bed.approvals.decide(approval.id, approveOneRejectOther(pay, remove));

    // As a new process would: a new agent object, the state restored from the approval alone.
    const { agent, model, ran } = treasury();
    const resumed = await run(agent, await restoreRun(agent, await bed.approvals.get(approval.id)));
    expect(ran).toEqual(["pay_invoice"]);
    expect(resumed.interruptions).toEqual([]);
    expect(resumed.finalOutput).toBe(
      `pay_invoice: paid INV-0417\nremove_supplier: ${CFO} rejected this call: "${REASON}"`,
    );
    const input = model.lastCall?.request.input;
    const results = (typeof input === "string" ? [] : (input ?? [])).filter(
      (item): item is CallResult => item.type === "function_call_result",
    );
    expect(results.map((r) => [r.callId, outputText(r.output)])).toEqual([
      [pay, "paid INV-0417"],
      [remove, `${CFO} rejected this call: "${REASON}"`],
    ]);
  });

  it("applies a decision to the run state in the same process, from waitForDecision", async () => {
    const { agent, ran, result, approval, pay, remove } = await pausedRun();
    await bed.approvals.decide(approval.id, approveOneRejectOther(pay, remove));
    applyDecision(result.state, await bed.approvals.waitForDecision(approval.id));
    const resumed = await run(agent, result.state);
    expect(ran).toEqual(["pay_invoice"]);
    // A Decision alone does not say who rejected which action.
    expect(resumed.finalOutput).toContain(`remove_supplier: A reviewer rejected this call: "${REASON}"`);
  });

  it("rejects every call of a cancelled batch, and the model reads why", async () => {
    const { approval } = await pausedRun();
    await bed.approvals.cancel(approval.id, { reason: "The invoice was paid by hand." });
    const { agent, ran } = treasury();
    const resumed = await run(agent, await restoreRun(agent, await bed.approvals.get(approval.id)));
    expect(ran).toEqual([]);
    const why = 'The approval request was cancelled: "The invoice was paid by hand."';
    expect(resumed.finalOutput).toBe(`pay_invoice: ${why}\nremove_supplier: ${why}`);
  });

  it("returns the same approval when asked again about the same pause", async () => {
    const { result, approval } = await pausedRun();
    const again = await requestRunApprovals(bed.approvals, result, ASK);
    expect(again.id).toBe(approval.id);
    expect(approval.idempotencyKey).toMatch(/^openai-agents:[\w-]{43}$/);
    const { rows } = await bed.pool.query(
      `select count(*)::int as n from "${bed.schema}".approval where idempotency_key = $1`,
      [approval.idempotencyKey],
    );
    expect(rows).toEqual([{ n: 1 }]);
  });

  it("writes the approval in the host's transaction: rolled back, nothing is left; committed, both are", async () => {
    await bed.pool.query(`create table "${bed.schema}".agent_run (id text primary key, approval_id uuid)`);
    const { agent } = treasury();
    for (const end of ["rollback", "commit"] as const) {
      const result = await run(agent, TASK);
      const client = await bed.pool.connect();
      let approvalId = "";
      try {
        await client.query("begin");
        const approval = await requestRunApprovals(bed.approvals, result, { ...ASK, db: client });
        approvalId = approval.id;
        await client.query(`insert into "${bed.schema}".agent_run values ($1, $2)`, [end, approval.id]);
        await client.query(end);
      } finally {
        client.release();
      }
      const approvals = await bed.pool.query(`select id from "${bed.schema}".approval where id = $1`, [approvalId]);
      const runs = await bed.pool.query(`select id from "${bed.schema}".agent_run where id = $1`, [end]);
      expect([approvals.rowCount, runs.rowCount]).toEqual(end === "commit" ? [1, 1] : [0, 0]);
    }
  });

  it("refuses to run an approved call with edits, applying nothing, and the batch offers none to make", async () => {
    const { agent, ran, result, approval, pay, remove } = await pausedRun();
    await expect(
      bed.approvals.decide(approval.id, {
        reviewer: CFO,
        actions: { [pay]: { outcome: "approve", edits: { amount_eur: 1 } }, [remove]: { outcome: "approve" } },
      }),
    ).rejects.toBeInstanceOf(ValidationError);

    const action = (id: string, name: string, edits: Decision["edits"] = []) => ({
      id,
      name,
      outcome: "approve" as const,
      input: {},
      edits,
      comment: null,
    });
    const edited: Decision = {
      ...(await bed.approvals.decide(approval.id, { reviewer: CFO, outcome: "approve" })).decision!,
      actions: [
        action(pay, "pay_invoice", [
          { action: pay, field: "amount_eur", from: 48250, to: 1, by: CFO, revision: 2 } as Decision["edits"][number],
        ]),
        action(remove, "remove_supplier"),
      ],
    };
    expect(() => applyDecision(result.state, edited)).toThrow(/actions\.call_\w+\.edits: were made, but the OpenAI/);
    // Nothing was applied: the run stops at the same two calls again.
    const again = await run(agent, result.state);
    expect(again.interruptions).toHaveLength(2);
    expect(ran).toEqual([]);
  });

  it("resumes the run from the worker through onDecision, once, with no process waiting", async () => {
    const type = "openai-agents.resume_test.v1";
    const worker = bed.create();
    const { agent, ran } = treasury();
    const finished: { output: unknown; context: RunResumeContext }[] = [];
    resumeOnDecision(worker, {
      type,
      agent,
      onResult: (result, context) => void finished.push({ output: result.finalOutput, context }),
    });
    await worker.start();

    const { approval, pay, remove } = await pausedRun({ type });
    await bed.approvals.decide(approval.id, approveOneRejectOther(pay, remove));
    await eventually(() => finished.length > 0);
    expect(ran).toEqual(["pay_invoice"]);
    expect(finished[0]?.output).toBe(
      `pay_invoice: paid INV-0417\nremove_supplier: ${CFO} rejected this call: "${REASON}"`,
    );
    expect(finished[0]?.context).toMatchObject({ attempt: 1, decision: { id: approval.id, status: "approved" } });
    await eventually(async () => (await bed.approvals.events(approval.id)).some((e) => e.type === "handler_done"));
    expect(finished).toHaveLength(1);
  });
});
