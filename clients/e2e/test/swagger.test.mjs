// Swagger UI at /docs in headless Chromium: the operations grouped by tag (one per API group), and a "Try it out" of
// POST /api/auth/sign-up/email that the server answers with 200 (the page's own origin is the
// server's, which it trusts). Screenshots go to artifacts/.
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { chromium } from 'playwright-core';
import { ARTIFACTS, ok, setup, uniqueEmail } from '../lib/harness.mjs';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
let env;
let browser;
let page;

before(async () => {
  env = await setup(import.meta.url);
  await mkdir(ARTIFACTS, { recursive: true });
  browser = await chromium.launch({ executablePath: CHROMIUM });
  page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
});
after(async () => {
  await browser?.close();
  await env?.teardown();
});

const operation = (method, path) =>
  page.locator(`.opblock-${method}`).filter({ has: page.locator(`.opblock-summary-path[data-path="${path}"]`) });

test('the page lists the operations grouped by tag', async () => {
  const res = await page.goto(`${env.baseURL}/docs`);
  assert.equal(res.status(), 200);
  await page.locator('.opblock-tag-section').first().waitFor();
  assert.match(await page.title(), /Swagger UI/);
  await page.locator('.info .title').filter({ hasText: 'orgauth' }).waitFor();

  const tags = await page.locator('.opblock-tag').evaluateAll((els) => els.map((e) => e.dataset.tag));
  for (const tag of ['Authentication', 'Sessions', 'User', 'Organizations', 'Members', 'Invitations', 'Teams', 'Health'])
    assert.ok(tags.includes(tag), `tag ${tag} in ${tags}`);

  // Operations sit under their tag's section.
  const under = async (tag) =>
    page
      .locator('.opblock-tag-section')
      .filter({ has: page.locator(`.opblock-tag[data-tag="${tag}"]`) })
      .locator('.opblock-summary-path')
      .evaluateAll((els) => els.map((e) => e.dataset.path));
  const auth = await under('Authentication');
  assert.ok(auth.includes('/api/auth/sign-up/email'), auth.join(' '));
  assert.ok(auth.includes('/api/auth/sign-in/email'));
  assert.ok((await under('Sessions')).includes('/api/auth/list-sessions'));
  for (const [tag, p] of [
    ['Organizations', '/api/auth/organization/create'],
    ['Members', '/api/auth/organization/list-members'],
    ['Invitations', '/api/auth/organization/invite-member'],
    ['Teams', '/api/auth/organization/create-team'],
  ]) {
    assert.ok((await under(tag)).includes(p), `${p} under ${tag}`);
  }
  assert.equal(
    await operation('post', '/api/auth/sign-up/email').locator('.opblock-summary-method').innerText(),
    'POST',
  );
  await page.screenshot({ path: join(ARTIFACTS, 'swagger.png') });
});

test('"Try it out" of sign-up/email creates the account and shows 200', async () => {
  const email = uniqueEmail('swagger');
  const password = 'swagger-password-1';
  const op = operation('post', '/api/auth/sign-up/email');
  await op.locator('.opblock-summary').first().click();
  await op.locator('button.try-out__btn').click();
  await op
    .locator('textarea.body-param__text')
    .fill(JSON.stringify({ name: 'Swagger User', email, password }, null, 2));
  await op.locator('button.execute').click();

  const live = op.locator('.live-responses-table tr.response');
  await live.waitFor();
  assert.equal((await live.locator('.response-col_status').innerText()).trim(), '200');
  const body = JSON.parse(await live.locator('.response-col_description pre').first().innerText());
  assert.equal(body.user.email, email);
  assert.match(body.token, /^[A-Za-z0-9]{32}$/);
  // The operation from its summary down to the server's response (not the documented responses).
  const top = await op.boundingBox();
  const end = await live.boundingBox();
  await page.screenshot({
    path: join(ARTIFACTS, 'swagger-try-it-out.png'),
    fullPage: true,
    clip: { x: top.x, y: top.y, width: top.width, height: end.y + end.height - top.y + 8 },
  });

  // The account exists: the official client signs in with it.
  const u = env.newUser('check');
  const signedIn = ok(await u.client.signIn.email({ email, password }));
  assert.equal(signedIn.user.name, 'Swagger User');
});

test('SIGTERM stops the server with exit code 0', async () => {
  await page.close();
  assert.deepEqual(await env.stop(), { code: 0, signal: null }, env.server.output().slice(-2000));
});
