// Horizon (with the ironic-ui plugin) against ironbark, in Debian's headless
// Chromium: the admin signs in, switches to the system scope and moves a
// node to `available` from the Bare Metal Provisioning panel; the tenant's
// Images panel lists ironbark's image; the tenant launches a server on the
// bare-metal flavor with Horizon's launch dialog and sees it Active with an
// address in the Instances panel, then deletes it.
//
// Environment: HORIZON_URL, ADMIN_PASSWORD, SHOTS (screenshots), FAILURES,
// CHROMIUM. The cloud is filled beforehand by tests/horizon/setup_cloud.py.
import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';

const H = process.env.HORIZON_URL.replace(/\/$/, '');
const SHOTS = process.env.SHOTS;
mkdirSync(SHOTS, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: [
    '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
  ],
});

function step(what) {
  console.log(`-- ${what}`);
}

async function shot(page, name) {
  await page.screenshot({ path: `${SHOTS}/horizon-${name}.png`, fullPage: true });
}

async function signIn(user, password) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  const page = await ctx.newPage();
  // a server error from Horizon's own views means an API answer it could not use
  page.on('response', (r) => {
    if (r.status() >= 500 && !r.url().includes('/api/glance/metadefs/')) console.log(`!! ${r.status()} ${r.url()}`);
  });
  await page.goto(`${H}/auth/login/`);
  await page.fill('#id_username', user);
  await page.fill('#id_password', password);
  await page.click('#loginBtn');
  await page.waitForURL(/\/project\//);
  return page;
}

/// Reloads `path` until `row` (a table row holding `rowText`) shows `want`.
async function waitForRow(page, path, rowText, want, seconds) {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    await page.goto(`${H}${path}`);
    const row = page.locator('tbody tr', { hasText: rowText });
    await row.first().waitFor({ timeout: 15000 });
    const text = await row.first().innerText();
    if (want.test(text)) return text;
    if (Date.now() > deadline) throw new Error(`${rowText} on ${path} never showed ${want}: ${text}`);
    await page.waitForTimeout(1500);
  }
}

let failed = false;
try {
  step('admin signs in; Horizon knows only the identity URL');
  let page = await signIn('admin', process.env.ADMIN_PASSWORD);
  await shot(page, 'overview');
  assert.equal(await page.locator('.alert-danger').count(), 0, 'the overview (usage, limits) loads without an error');

  step('system scope: the Bare Metal Provisioning panel lists the fleet');
  await page.goto(`${H}/auth/switch_system_scope/`);
  await page.waitForURL(/\/(project|admin)\//);
  await page.goto(`${H}/admin/ironic/`);
  const row = page.locator('tbody tr', { hasText: 'r2-u02' });
  await row.waitFor({ timeout: 30000 });
  await page.locator('tbody tr', { hasText: 'r2-u01' }).waitFor();
  assert.match(await row.innerText(), /manageable/);
  await shot(page, 'baremetal');

  step('the panel moves r2-u02 from manageable to available');
  await row.locator('.dropdown-toggle').first().click();
  await row.getByText('Move to available').click();
  await page.waitForTimeout(1000);
  const deadline = Date.now() + 90000;
  for (;;) {
    await page.getByRole('button', { name: 'Refresh' }).click();
    await page.waitForTimeout(1500);
    const text = await page.locator('tbody tr', { hasText: 'r2-u02' }).innerText();
    if (/\bavailable\b/.test(text)) break;
    if (Date.now() > deadline) throw new Error(`r2-u02 did not become available: ${text}`);
  }
  await shot(page, 'baremetal-available');
  await page.context().close();

  step('the tenant sees ironbark\'s image in the Images panel');
  page = await signIn('alice', 'alice-pw');
  await page.goto(`${H}/project/images/`);
  await page.locator('tbody tr', { hasText: 'ubuntu-24.04-baremetal' }).first().waitFor({ timeout: 30000 });
  await shot(page, 'images');

  step('the tenant launches a server on the bare-metal flavor');
  await page.goto(`${H}/project/instances/`);
  await page.locator('#instances__action_launch-ng').click();
  const modal = page.locator('.modal-dialog');
  await modal.getByLabel('Instance Name').fill('horizon-bms');
  await modal.getByRole('link', { name: /Source/ }).click();
  await modal.locator('tr', { hasText: 'ubuntu-24.04-baremetal' }).locator('button').last().click();
  await modal.getByRole('link', { name: /Flavor/ }).click();
  await modal.locator('tr', { hasText: 'bm.gold' }).locator('button').last().click();
  await modal.getByRole('link', { name: /^Networks/ }).click();
  await modal.locator('tr', { hasText: 'demo-net' }).first().waitFor();
  await shot(page, 'launch');
  await modal.locator('.modal-footer button', { hasText: 'Launch Instance' }).click();
  await modal.waitFor({ state: 'detached', timeout: 30000 });
  const active = await waitForRow(page, '/project/instances/', 'horizon-bms', /Active/, 240);
  assert.match(active, /10\.30\.0\.\d+/, `an address on demo-net: ${active}`);
  assert.match(active, /bm\.gold/);
  await shot(page, 'instances');

  step('the tenant deletes it');
  await page.locator('tbody tr', { hasText: 'horizon-bms' }).locator('.dropdown-toggle').first().click();
  await page.locator('tbody tr', { hasText: 'horizon-bms' }).getByText('Delete Instance').click();
  await page.locator('.modal-footer').getByText('Delete Instance').click();
  const deadline2 = Date.now() + 240000;
  for (;;) {
    await page.goto(`${H}/project/instances/`);
    if ((await page.locator('tbody tr', { hasText: 'horizon-bms' }).count()) === 0) break;
    if (Date.now() > deadline2) throw new Error('horizon-bms was never deleted');
    await page.waitForTimeout(2000);
  }
  console.log('ALL PASSED');
} catch (e) {
  failed = true;
  console.error(e);
  for (const ctx of browser.contexts()) {
    for (const p of ctx.pages()) await p.screenshot({ path: `${process.env.FAILURES || SHOTS}/horizon-failure-${Date.now()}.png` }).catch(() => {});
  }
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
