/**
 * A Fastify app with countersign registered under /approvals, and one route of its own that asks a human
 * before deploying. The plugin keeps its raw-body handling inside its own encapsulated context, so the
 * app's JSON parsing is untouched.
 *
 *   POST /deploys {"service": "billing", "version": "2.4.0"}  → 202 { approvalId }
 *   GET  /deploys/:approvalId                                 → the approval's status
 */
import { consoleChannel, createApprovals } from "countersign";
import { fastifyPlugin } from "countersign/fastify";
import Fastify from "fastify";

const approvals = createApprovals({
  connectionString: process.env.DATABASE_URL,
  // A schema of this example's own: workers on one schema run each other's jobs (see the README's Operations).
  schema: process.env.COUNTERSIGN_SCHEMA ?? "example_fastify",
  // Links point at this app, which serves the page on PORT (below).
  publicUrl: process.env.PUBLIC_URL ?? `http://127.0.0.1:${process.env.PORT ?? 3000}/approvals`,
  secret: process.env.COUNTERSIGN_SECRET ?? "dev-only-secret-do-not-use-in-production",
  channels: [consoleChannel()],
});
await approvals.migrate();
await approvals.start();

const app = Fastify();
await app.register(fastifyPlugin(approvals), { prefix: "/approvals" });

app.post<{ Body: { service: string; version: string } }>("/deploys", async (request, reply) => {
  const { service, version } = request.body;
  const approval = await approvals.requestApproval({
    type: "deploy.production.v1",
    title: `Deploy ${service} ${version} to production`,
    payload: { service, version, environment: "production" },
    requestedBy: "agent://platform/release-bot",
    reviewers: ["sre-oncall@company.com"],
    timeout: { after: "1h", action: "reject" },
  });
  void approvals
    .waitForDecision(approval.id)
    .then((decision) =>
      console.log(
        decision.approved
          ? `Deploying ${service} ${version} (approved by ${decision.decidedBy})`
          : `Deploy of ${service} ${version} stopped: ${decision.status}`,
      ),
    );
  return reply.code(202).send({ approvalId: approval.id });
});

app.get<{ Params: { id: string } }>("/deploys/:id", async (request) => {
  const approval = await approvals.get(request.params.id);
  return { status: approval.status, decision: approval.decision };
});

await app.listen({ port: Number(process.env.PORT ?? 3000), host: "127.0.0.1" });
console.log(`Listening on http://127.0.0.1:${process.env.PORT ?? 3000} (approval pages under /approvals)`);

const stop = async () => {
  await app.close();
  await approvals.stop();
};
process.once("SIGINT", stop);
process.once("SIGTERM", stop);
