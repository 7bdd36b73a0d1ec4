// For test/reference.test.mjs: raw HTTP against a server (node:http, so that every header sent is
// the one written here: no Origin, Referer or Sec-Fetch-* unless a case adds it), users as cookie
// maps, and the comparison of two servers' observations.
//
// An observation is either a response — `{ status, body, text, location, setCookies }` — or a
// fact (`fact(value)`, any JSON value the case computed the same way on both servers). Responses
// are compared by status; for errors (status >= 400) by `code` and `message`; for successes by the
// body's shape (key sets and JSON types: strings, numbers, ids and timestamps are not compared,
// booleans and null are); always by the Set-Cookie names with whether each is cleared, and by
// `Location` when either sends one. Facts are compared by value.
import { randomBytes } from 'node:crypto';
import http from 'node:http';

const FACT = Symbol('fact');
/** A value a case computed from its answers (compared exactly). */
export const fact = (value) => ({ [FACT]: true, value });
const isFact = (o) => o !== null && typeof o === 'object' && o[FACT] === true;

/** `name` or `name (cleared)` for each Set-Cookie header, sorted. */
export function cookieSummary(setCookies) {
  return setCookies.map((c) => (c.cleared ? `${c.name} (cleared)` : c.name)).sort();
}

function parseSetCookie(header) {
  const [pair, ...attrs] = header.split(';');
  const eq = pair.indexOf('=');
  const name = pair.slice(0, eq).trim();
  const value = pair.slice(eq + 1).trim();
  const maxAge = attrs.map((a) => a.trim()).find((a) => /^max-age=/i.test(a));
  const expires = attrs.map((a) => a.trim()).find((a) => /^expires=/i.test(a));
  const cleared =
    value === '' ||
    (maxAge !== undefined && Number(maxAge.split('=')[1]) <= 0) ||
    (expires !== undefined && Date.parse(expires.slice(8)) < Date.now());
  return { name, value, cleared };
}

/**
 * A client of one server: `request` sends one request and returns the observation; `signUp`
 * makes a user (a cookie map) through POST /sign-up/email.
 */
export function serverClient(server) {
  const base = new URL(server.baseURL);

  /**
   * method, path (under /api/auth, may carry a query string), options:
   * - `json`: a value sent as JSON (`application/json`);
   * - `raw` + `contentType`: a body sent as is (contentType null: no Content-Type header);
   * - `as`: a user whose cookies are sent (and updated from the answer);
   * - `origin`: true (default: the server's base URL), false (none), or a string;
   * - `headers`: more headers (e.g. `referer`).
   */
  function request(method, path, { json, raw, contentType, as, origin = true, headers = {} } = {}) {
    const h = { ...headers };
    let body;
    if (json !== undefined) {
      body = Buffer.from(JSON.stringify(json));
      h['content-type'] = 'application/json';
    } else if (raw !== undefined) {
      body = Buffer.from(raw);
      if (contentType) h['content-type'] = contentType;
    }
    if (body) h['content-length'] = String(body.length);
    if (origin === true) h.origin = server.baseURL;
    else if (typeof origin === 'string') h.origin = origin;
    if (as && as.cookies.size) h.cookie = [...as.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    return new Promise((ok, fail) => {
      const req = http.request(
        { host: base.hostname, port: base.port, method, path: `/api/auth${path}`, headers: h },
        (res) => {
          const chunks = [];
          res.on('data', (d) => chunks.push(d));
          res.on('error', fail);
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed;
            try {
              parsed = text === '' ? undefined : JSON.parse(text);
            } catch {
              parsed = undefined;
            }
            const rawSetCookies = res.headers['set-cookie'] ?? [];
            const setCookies = rawSetCookies.map(parseSetCookie);
            if (as)
              for (const c of setCookies) {
                if (c.cleared) as.cookies.delete(c.name);
                else as.cookies.set(c.name, c.value);
              }
            ok({
              request: `${method} ${path}`,
              status: res.statusCode,
              body: parsed,
              text: parsed === undefined ? text : undefined,
              location: res.headers.location,
              setCookies,
              rawSetCookies,
            });
          });
        },
      );
      req.on('error', fail);
      if (body) req.write(body);
      req.end();
    });
  }

  /** A new user signed up (and in) with a fresh address: `{ email, password, id, cookies }`. */
  async function signUp(prefix, email = `${prefix}-${randomBytes(4).toString('hex')}@example.com`) {
    const u = { email, password: `pw-${randomBytes(8).toString('hex')}`, name: prefix, cookies: new Map() };
    const res = await request('POST', '/sign-up/email', {
      json: { email: u.email, password: u.password, name: u.name },
      as: u,
    });
    if (res.status !== 200) throw new Error(`sign-up on ${server.label}: ${res.status} ${JSON.stringify(res.body)}`);
    u.id = res.body.user.id;
    return u;
  }

  return {
    server,
    request,
    signUp,
    get: (path, o) => request('GET', path, o),
    post: (path, o) => request('POST', path, o),
  };
}

/** The shape of a JSON value: strings and numbers by type, booleans and null by value. */
export function shape(v) {
  if (v === null || typeof v === 'boolean') return v;
  if (Array.isArray(v)) return v.map(shape);
  if (typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, shape(x)]));
  return typeof v;
}

function shapeDifferences(a, b, path) {
  const kind = (v) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);
  if (kind(a) === 'object' && kind(b) === 'object') {
    const out = [];
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
      const p = `${path}.${k}`;
      if (!(k in b)) out.push({ field: p, reference: a[k], orgauth: '<missing>' });
      else if (!(k in a)) out.push({ field: p, reference: '<missing>', orgauth: b[k] });
      else out.push(...shapeDifferences(a[k], b[k], p));
    }
    return out;
  }
  if (kind(a) === 'array' && kind(b) === 'array') {
    const out = [];
    if (a.length !== b.length) out.push({ field: `${path}.length`, reference: a.length, orgauth: b.length });
    for (let i = 0; i < Math.min(a.length, b.length); i++) out.push(...shapeDifferences(a[i], b[i], `${path}[${i}]`));
    return out;
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [{ field: path, reference: a, orgauth: b }];
}

const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

/**
 * Differences between two responses as `{ field, reference, orgauth }`; `only` limits the fields
 * compared (e.g. ['status', 'set-cookie']).
 */
export function responseDifferences(ref, oa, only) {
  const want = (f) => !only || only.includes(f);
  const out = [];
  const push = (field, reference, orgauth) => {
    if (!same(reference, orgauth)) out.push({ field, reference, orgauth });
  };
  if (want('status')) push('status', ref.status, oa.status);
  const isError = ref.status >= 400 || oa.status >= 400;
  if (isError) {
    if (want('code')) push('code', ref.body?.code ?? null, oa.body?.code ?? null);
    if (want('message')) push('message', ref.body?.message ?? ref.text ?? null, oa.body?.message ?? oa.text ?? null);
  } else if (want('body')) {
    const a = ref.body === undefined ? `<${ref.text === '' ? 'empty' : 'not JSON'}>` : shape(ref.body);
    const b = oa.body === undefined ? `<${oa.text === '' ? 'empty' : 'not JSON'}>` : shape(oa.body);
    out.push(...shapeDifferences(a, b, 'body'));
  }
  if (want('set-cookie')) push('set-cookie', cookieSummary(ref.setCookies), cookieSummary(oa.setCookies));
  if (want('location') && (ref.location !== undefined || oa.location !== undefined))
    push('location', ref.location ?? null, oa.location ?? null);
  return out;
}

/**
 * Every difference between two runs of a case (objects of step name → observation), each as
 * `{ step, field, reference, orgauth }`. A step whose observation is `{ response, only }`
 * compares only those fields.
 */
export function caseDifferences(ref, oa) {
  const out = [];
  for (const step of new Set([...Object.keys(ref), ...Object.keys(oa)])) {
    const a = ref[step];
    const b = oa[step];
    if (a === undefined || b === undefined) {
      out.push({
        step,
        field: 'step',
        reference: a === undefined ? '<missing>' : 'ran',
        orgauth: b === undefined ? '<missing>' : 'ran',
      });
    } else if (isFact(a) || isFact(b)) {
      if (!same(a.value, b.value)) out.push({ step, field: 'fact', reference: a.value, orgauth: b.value });
    } else {
      const only = a.only ?? b.only;
      for (const d of responseDifferences(a.response ?? a, b.response ?? b, only)) out.push({ step, ...d });
    }
  }
  return out;
}

/** An observation compared on these fields only. */
export const only = (fields, response) => ({ response, only: fields });

/** Observations as plain JSON (for the record files). */
export function plain(observations) {
  return Object.fromEntries(
    Object.entries(observations).map(([k, v]) => {
      if (isFact(v)) return [k, { fact: v.value }];
      const r = v.response ?? v;
      return [
        k,
        {
          request: r.request,
          status: r.status,
          ...(r.body !== undefined ? { body: r.body } : { text: r.text }),
          ...(r.location !== undefined && { location: r.location }),
          setCookie: cookieSummary(r.setCookies),
          ...(v.only && { compared: v.only }),
        },
      ];
    }),
  );
}
