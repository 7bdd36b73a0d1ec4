// Smoke flow: the release binary on a fresh SQLite file, driven through the generated client.
// Built by `tsc` into dist/, run as `node dist/smoke/smoke.js` from clients/typescript (run.sh).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createOrgauthClient } from "../src/index.js";
import { conformance } from "./conformance.js";

const root = resolve(import.meta.dirname, "../.."); // clients/typescript, from dist/smoke
const bin = process.env.ORGAUTH_BIN ?? resolve(root, "../../target/release/orgauth");
const doc = JSON.parse(readFileSync(join(root, "openapi.json"), "utf8"));

async function freePort(): Promise<number> {
  const srv = createServer().listen(0, "127.0.0.1");
  await once(srv, "listening");
  const { port } = srv.address() as { port: number };
  srv.close();
  await once(srv, "close");
  return port;
}

const dir = mkdtempSync(join(tmpdir(), "orgauth-smoke-"));
const port = await freePort();
const baseUrl = `http://127.0.0.1:${port}`;
const server = spawn(bin, [], {
  env: {
    ...process.env,
    DATABASE_URL: `sqlite://${dir}/s.db?mode=rwc`,
    HOST: "127.0.0.1",
    PORT: String(port),
    BETTER_AUTH_URL: baseUrl,
    BETTER_AUTH_SECRET: "smoke-secret-0123456789abcdefghijklmnop",
    ORGAUTH_RATE_LIMIT: "off",
    RUST_LOG: "warn",
  },
  stdio: ["ignore", "ignore", "pipe"],
});
let log = "";
server.stderr!.on("data", (chunk) => (log += chunk));
const exited = once(server, "exit") as Promise<[number | null, NodeJS.Signals | null]>;

const { middleware, problems } = conformance(doc);
let failed = false;
try {
  // Up within 20 s, or the server's log says why not.
  for (let i = 0; ; i++) {
    if (server.exitCode !== null) throw new Error(`orgauth exited with ${server.exitCode}`);
    if (await fetch(`${baseUrl}/healthz`).then((r) => r.ok, () => false)) break;
    if (i === 200) throw new Error("orgauth did not answer /healthz within 20 s");
    await new Promise((r) => setTimeout(r, 100));
  }

  // Node's fetch sends `Sec-Fetch-Mode: cors`, so the server treats it as a browser: sign-in and
  // sign-up need a trusted Origin (docs/auth.md, cross-site requests).
  const anonymous = createOrgauthClient(baseUrl, { headers: { Origin: baseUrl } });
  anonymous.use(middleware);
  const email = `smoke-${Date.now()}@example.com`;
  const password = "correct horse battery";

  const signUp = await anonymous.POST("/api/auth/sign-up/email", { body: { name: "Smoke", email, password } });
  assert.equal(signUp.response.status, 200, JSON.stringify(signUp.error));
  assert.equal(signUp.data?.user.email, email);
  const token = signUp.response.headers.get("set-auth-token");
  assert.ok(token, "sign-up answers a set-auth-token header");
  const userId = signUp.data!.user.id;

  // Bearer token and no cookie: the origin check does not apply.
  const client = createOrgauthClient(baseUrl, { bearer: token });
  client.use(middleware);

  const session = await client.GET("/api/auth/get-session");
  assert.equal(session.data?.user.id, userId);
  assert.equal(session.data?.session.userId, userId);
  assert.equal((await anonymous.GET("/api/auth/get-session")).data, null, "no session → null");

  const slug = `acme-${Date.now()}`;
  const created = await client.POST("/api/auth/organization/create", { body: { name: "Acme", slug } });
  assert.equal(created.response.status, 200, JSON.stringify(created.error));
  const org = created.data!;
  assert.equal(org.slug, slug);
  assert.deepEqual(org.members.map((m) => [m.userId, m.role]), [[userId, "owner"]]);

  const orgs = await client.GET("/api/auth/organization/list");
  assert.deepEqual(orgs.data?.map((o) => [o.id, o.name]), [[org.id, "Acme"]]);

  const team = await client.POST("/api/auth/organization/create-team", {
    body: { name: "Core", organizationId: org.id },
  });
  assert.equal(team.response.status, 200, JSON.stringify(team.error));
  assert.equal(team.data?.name, "Core");
  assert.equal(team.data?.organizationId, org.id);

  const teams = await client.GET("/api/auth/organization/list-teams", { params: { query: { organizationId: org.id } } });
  // The default team named after the organization, then ours.
  assert.deepEqual(teams.data?.map((t) => t.name).sort(), ["Acme", "Core"]);

  const members = await client.GET("/api/auth/organization/list-members", {
    params: { query: { organizationId: org.id } },
  });
  assert.equal(members.data?.total, 1);
  assert.deepEqual(members.data?.members.map((m) => [m.user.email, m.role]), [[email, "owner"]]);

  // A typed error: `error` is the ErrorBody, `data` is absent.
  const wrong = await anonymous.POST("/api/auth/sign-in/email", { body: { email, password: "wrong password" } });
  assert.equal(wrong.response.status, 401);
  assert.equal(wrong.data, undefined);
  assert.equal(wrong.error?.code, "INVALID_EMAIL_OR_PASSWORD");
  assert.equal(typeof wrong.error?.message, "string");
  // Magic-link sign-in: the same answer for any address; a bad link lands on the error callback.
  const magic = await anonymous.POST("/api/auth/sign-in/magic-link", {
    body: { email: `magic-${email}`, name: "Magic", callbackURL: "/" },
  });
  assert.equal(magic.response.status, 200, JSON.stringify(magic.error));
  assert.deepEqual(magic.data, { status: true });
  const landing = await anonymous.GET("/api/auth/magic-link/verify", {
    params: { query: { token: "not-a-link", callbackURL: "/in" } },
    redirect: "manual",
  });
  assert.equal(landing.response.status, 302);
  assert.equal(landing.response.headers.get("location"), `${baseUrl}/in?error=INVALID_TOKEN`);
  // The admin plugin: a plain user may not list users (a typed 403) and holds no admin permission.
  const listUsers = await client.GET("/api/auth/admin/list-users", { params: { query: {} } });
  assert.equal(listUsers.response.status, 403);
  assert.equal(listUsers.error?.code, "YOU_ARE_NOT_ALLOWED_TO_LIST_USERS");
  const allowed = await client.POST("/api/auth/admin/has-permission", {
    body: { permissions: { user: ["list"] } },
  });
  assert.equal(allowed.response.status, 200, JSON.stringify(allowed.error));
  assert.equal(allowed.data?.success, false);
  console.log("smoke flow: sign-up, session, organization, team, members, magic link, admin refusals and a typed error as expected");
} catch (e) {
  failed = true;
  console.error(e);
  console.error(`--- orgauth log ---\n${log}`);
} finally {
  server.kill("SIGTERM");
  const [code, signal] = await exited;
  rmSync(dir, { recursive: true, force: true });
  if (code !== 0) {
    failed = true;
    console.error(`orgauth stopped with exit code ${code} (signal ${signal}) after SIGTERM, want 0`);
  }
}

if (problems.length) {
  failed = true;
  console.error(`Responses that do not match openapi.json (${problems.length}):\n  ${problems.join("\n  ")}`);
}
if (failed) process.exit(1);
console.log("smoke: every response matches openapi.json; orgauth exited 0 on SIGTERM");
