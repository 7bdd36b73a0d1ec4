// Better Auth's API reference page (the openAPI() plugin's Scalar page) at /api/auth/reference in
// headless Chromium: it renders from the server's own OpenAPI document, lists the operations by
// tag, and loads nothing from another origin (Scalar is embedded; no CDN, no web fonts). The
// document is also at Better Auth's /api/auth/open-api/generate-schema. Screenshot in artifacts/.
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { chromium } from 'playwright-core';
import { ARTIFACTS, setup } from '../lib/harness.mjs';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
let env;
let browser;
let page;
const foreign = [];

before(async () => {
  env = await setup(import.meta.url);
  await mkdir(ARTIFACTS, { recursive: true });
  browser = await chromium.launch({ executablePath: CHROMIUM });
  page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  page.on('request', (req) => {
    const url = new URL(req.url());
    if (!['data:', 'blob:'].includes(url.protocol) && url.origin !== env.baseURL) foreign.push(req.url());
  });
});
after(async () => {
  await browser?.close();
  await env?.teardown();
});

test("the document is at Better Auth's path too", async () => {
  const ours = await (await fetch(`${env.baseURL}/openapi.json`)).json();
  const res = await fetch(`${env.baseURL}/api/auth/open-api/generate-schema`);
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), ours);
});

test('the reference page renders the operations, from this server alone', async () => {
  const res = await page.goto(`${env.baseURL}/api/auth/reference`);
  assert.equal(res.status(), 200);
  const spec = await (await fetch(`${env.baseURL}/openapi.json`)).json();
  // The document's title; every tag in the sidebar (the first one open); the operations of the
  // first tag, by their summaries.
  await page.getByText(spec.info.title, { exact: true }).first().waitFor({ timeout: 30_000 });
  const tags = [...new Set(Object.values(spec.paths).flatMap((item) => Object.values(item).flatMap((op) => op.tags)))];
  assert.ok(tags.length >= 8, tags.join(' '));
  const text = await page.evaluate(() => document.body.innerText);
  for (const tag of tags) assert.match(text, new RegExp(`(Expand|Collapse) ${tag}\\b`), `tag ${tag} in the sidebar`);
  // The tag the page opens (the first of the sidebar): its operations are listed by summary.
  const open = tags.filter((tag) => new RegExp(`Collapse ${tag}\\b`).test(text));
  assert.equal(open.length, 1, `one tag open: ${open.join(' ')}`);
  const first = Object.entries(spec.paths).flatMap(([, item]) =>
    Object.values(item).filter((op) => op.tags[0] === open[0]),
  );
  assert.ok(first.length > 0, open[0]);
  for (const op of first) await page.getByText(op.summary, { exact: true }).first().waitFor({ timeout: 10_000 });
  // Scalar titles the page from the configuration's metaData, as on Better Auth's page.
  assert.equal(await page.title(), 'orgauth API');
  await page.screenshot({ path: join(ARTIFACTS, 'api-reference.png') });
  assert.deepEqual(foreign, [], `requests to other origins: ${foreign.join(' ')}`);
});
