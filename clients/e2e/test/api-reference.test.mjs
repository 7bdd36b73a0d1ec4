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

test('the document is at Better Auth path too', async () => {
  const ours = await (await fetch(`${env.baseURL}/openapi.json`)).json();
  const res = await fetch(`${env.baseURL}/api/auth/open-api/generate-schema`);
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), ours);
});

test('the reference page renders the operations, from this server alone', async () => {
  const res = await page.goto(`${env.baseURL}/api/auth/reference`);
  assert.equal(res.status(), 200);
  assert.equal(await page.title(), 'Scalar API Reference');
  const spec = await (await fetch(`${env.baseURL}/openapi.json`)).json();
  // The document's title, then operations of several tags, by their summaries.
  await page.getByText(spec.info.title, { exact: true }).first().waitFor({ timeout: 30_000 });
  for (const [path, method] of [
    ['/api/auth/sign-in/email', 'post'],
    ['/api/auth/sign-in/magic-link', 'post'],
    ['/api/auth/get-session', 'get'],
    ['/api/auth/organization/create', 'post'],
    ['/api/auth/organization/create-team', 'post'],
  ]) {
    const summary = spec.paths[path][method].summary;
    await page.getByText(summary, { exact: true }).first().waitFor({ timeout: 10_000 });
  }
  await page.screenshot({ path: join(ARTIFACTS, 'api-reference.png') });
  assert.deepEqual(foreign, [], `requests to other origins: ${foreign.join(' ')}`);
});
