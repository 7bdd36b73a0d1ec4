// Checks what a generated client relies on, operation by operation, in openapi.json (or the file
// given), and lists every violation; exits 1 if there is any. The rules:
//  - operationId: present, unique, a camelCase identifier;
//  - summary: present; exactly one tag, declared with a description in the top-level `tags`;
//  - request body: JSON with a typed schema;
//  - responses: every one described; a 2xx or, for a route that always redirects, a 3xx; a 2xx
//    with a typed JSON schema (unless 204, or a page for people: `text/html`, a string); a 3xx
//    with `Location`; at least one 4xx (but /healthz and /readyz); every 4xx/5xx with the
//    ErrorBody schema ({message, code});
//  - errors the server answers outside the handlers are documented: 400, 413 and 415 on every
//    operation with a JSON body, 429 on every rate-limited one (all under /api/auth);
//  - every schema reachable from an operation is typed: no `{}` (any value), and no `type` that
//    contradicts its own anyOf/oneOf branches. `additionalProperties: {}` is allowed: it is JSON
//    Schema's `additionalProperties: true` (a free-form object, e.g. `metadata`), and poem-openapi
//    can only write the former.
import { readFileSync } from "node:fs";

const file = process.argv[2] ?? new URL("../openapi.json", import.meta.url);
const doc = JSON.parse(readFileSync(file, "utf8"));
const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];
const ERROR_REF = "#/components/schemas/ErrorBody";
const PROBES = new Set(["/healthz", "/readyz"]);
const violations = [];

const declaredTags = new Map((doc.tags ?? []).map((t) => [t.name, t]));
const resolve = (s) => (s?.$ref ? doc.components.schemas[s.$ref.split("/").pop()] : s);
const ANNOTATIONS = new Set(["description", "title", "example", "deprecated", "default", "readOnly", "writeOnly"]);
const annotationOnly = (s) => Object.keys(s).every((k) => ANNOTATIONS.has(k));
const jsonContent = (content) =>
  Object.entries(content ?? {}).find(([type]) => /^application\/json\b/.test(type))?.[1];
const htmlContent = (content) =>
  Object.entries(content ?? {}).find(([type]) => /^text\/html\b/.test(type))?.[1];

// Where a schema reachable from `schema` is untyped or self-contradictory, as "where: problem".
function schemaProblems(schema, where, seen = new Set()) {
  if (!schema) return [`${where}: no schema`];
  if (schema.$ref) {
    if (seen.has(schema.$ref)) return [];
    seen.add(schema.$ref);
    const name = schema.$ref.split("/").pop();
    return schemaProblems(resolve(schema), `#/components/schemas/${name}`, seen);
  }
  const out = [];
  const branches = schema.anyOf ?? schema.oneOf;
  const composed = schema.allOf ?? branches;
  if (!schema.type && !composed && !schema.enum) {
    out.push(`${where}: untyped schema (any JSON value)`);
  }
  if (schema.type && branches) {
    const other = branches.map(resolve).filter((b) => b.type && b.type !== schema.type);
    if (other.length) {
      out.push(
        `${where}: "type": "${schema.type}" contradicts its ${schema.anyOf ? "anyOf" : "oneOf"} ` +
          `branches (${other.map((b) => b.type).join(", ")}); no value can match both`,
      );
    }
  }
  // allOf: [{$ref}, {description}] is how a described reference is written; the second part is no schema.
  for (const sub of composed ?? []) {
    if (!(schema.allOf && annotationOnly(sub))) out.push(...schemaProblems(sub, where, seen));
  }
  for (const [name, prop] of Object.entries(schema.properties ?? {})) {
    out.push(...schemaProblems(prop, `${where}.${name}`, seen));
  }
  if (schema.items) out.push(...schemaProblems(schema.items, `${where}[]`, seen));
  if (typeof schema.additionalProperties === "object" && Object.keys(schema.additionalProperties).length) {
    out.push(...schemaProblems(schema.additionalProperties, `${where}{}`, seen));
  }
  return out;
}

const operationIds = new Map();
let count = 0;
const schemaSeen = new Set(); // component schemas are reported once, not per operation
for (const [path, item] of Object.entries(doc.paths)) {
  for (const method of METHODS) {
    const op = item[method];
    if (!op) continue;
    count++;
    const name = `${method.toUpperCase()} ${path}`;
    const bad = (what) => violations.push(`${name}${op.operationId ? ` (${op.operationId})` : ""}: ${what}`);
    const typed = (schema, where) => {
      for (const p of schemaProblems(schema, where, schemaSeen)) bad(p);
    };

    if (!op.operationId) bad("no operationId");
    else if (!/^[a-z][A-Za-z0-9]*$/.test(op.operationId)) bad("operationId is not a camelCase identifier");
    else if (operationIds.has(op.operationId)) bad(`operationId also used by ${operationIds.get(op.operationId)}`);
    else operationIds.set(op.operationId, name);
    if (!op.summary?.trim()) bad("no summary");
    if (op.tags?.length !== 1) bad(`${op.tags?.length ?? 0} tags, want exactly one`);
    else if (!declaredTags.get(op.tags[0])?.description) bad(`tag "${op.tags[0]}" is not declared with a description`);

    if (op.requestBody) {
      const body = jsonContent(op.requestBody.content);
      if (!body) bad("request body is not JSON");
      else typed(body.schema, "request body");
    }

    const responses = Object.entries(op.responses ?? {});
    const codes = responses.map(([code]) => code);
    for (const [code, res] of responses) {
      if (!res.description?.trim()) bad(`response ${code} has an empty description`);
      const body = jsonContent(res.content);
      if (/^2/.test(code)) {
        if (code === "204") continue;
        if (body) typed(body.schema, `response ${code}`);
        else if (htmlContent(res.content)?.schema?.type !== "string") bad(`response ${code} has no JSON body schema`);
      } else if (/^3/.test(code)) {
        if (!Object.keys(res.headers ?? {}).some((h) => h.toLowerCase() === "location")) {
          bad(`response ${code} does not document the Location header`);
        }
      } else if (/^[45]/.test(code) && body?.schema?.$ref !== ERROR_REF) {
        bad(`response ${code} does not use the ErrorBody schema`);
      }
    }
    if (!codes.some((c) => /^[23]/.test(c))) bad("no 2xx or 3xx response");
    // Probes outside /api/auth take no input and are not rate-limited: no client error to document.
    if (!codes.some((c) => /^4/.test(c)) && !PROBES.has(path)) bad("no 4xx response");
    const want = [];
    if (op.requestBody) want.push("400", "413", "415");
    if (path.startsWith("/api/auth/")) want.push("429");
    const missing = [...new Set(want)].filter((c) => !codes.includes(c));
    if (missing.length) bad(`undocumented error responses: ${missing.join(", ")}`);
  }
}

if (violations.length) {
  console.error(violations.join("\n"));
  console.error(`\ncheck-spec: ${violations.length} violations in ${count} operations`);
  process.exit(1);
}
console.log(`check-spec: ${count} operations, no violations`);
