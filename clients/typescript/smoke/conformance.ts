// Holds every response the smoke flow receives against what openapi.json documents for its
// operation and status, so that a type the client believes and a body the server sends cannot
// drift apart unnoticed. A client middleware; `problems` lists each mismatch.
import { Ajv, type ValidateFunction } from "ajv";
import type { Middleware } from "openapi-fetch";

type Json = any; // the OpenAPI document, walked generically

// OpenAPI 3.0 schema → JSON Schema for Ajv: `nullable: true` admits null whatever the rest says
// (as openapi-typescript reads it), and objects admit no property they do not document.
function toJsonSchema(s: Json): Json {
  if (Array.isArray(s)) return s.map(toJsonSchema);
  if (s === null || typeof s !== "object") return s;
  const { nullable, ...rest } = s;
  const out: Json = {};
  for (const [k, v] of Object.entries(rest)) {
    out[k] = k === "properties" ? Object.fromEntries(Object.entries(v as Json).map(([p, ps]) => [p, toJsonSchema(ps)])) : toJsonSchema(v);
  }
  if (typeof out.$ref === "string") out.$ref = out.$ref.replace(/^#\//, "spec#/");
  if (out.properties && out.additionalProperties === undefined) out.additionalProperties = false;
  return nullable === true ? { anyOf: [out, { type: "null" }] } : out;
}

export function conformance(doc: Json): { middleware: Middleware; problems: string[] } {
  const ajv = new Ajv({ strict: false, validateFormats: false, allErrors: true, inlineRefs: false });
  ajv.addSchema({ $id: "spec", components: toJsonSchema(doc.components) });
  const validators = new Map<string, ValidateFunction>();
  const problems: string[] = [];

  const middleware: Middleware = {
    async onResponse({ request, response, schemaPath }) {
      const method = request.method.toLowerCase();
      const where = `${request.method} ${schemaPath} → ${response.status}`;
      const documented = doc.paths[schemaPath]?.[method]?.responses ?? {};
      const spec = documented[response.status] ?? documented.default;
      const text = await response.clone().text();
      if (!spec) return void problems.push(`${where}: status not documented`);
      const content = Object.entries(spec.content ?? {}).find(([t]) => t.startsWith("application/json"));
      if (!content) {
        if (text) problems.push(`${where}: body ${text.slice(0, 80)} where none is documented`);
        return;
      }
      const key = `${method} ${schemaPath} ${response.status}`;
      let validate = validators.get(key);
      if (!validate) {
        validate = ajv.compile(toJsonSchema((content[1] as Json).schema));
        validators.set(key, validate);
      }
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        return void problems.push(`${where}: body is not JSON: ${text.slice(0, 80)}`);
      }
      if (!validate(body)) {
        for (const e of validate.errors ?? []) {
          const extra = e.keyword === "additionalProperties" ? ` "${e.params.additionalProperty}"` : "";
          problems.push(`${where}: body${e.instancePath} ${e.message}${extra}`);
        }
      }
    },
  };
  return { middleware, problems };
}
