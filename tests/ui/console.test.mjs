// ironbark's web console in a real browser (Debian's headless Chromium,
// driven by playwright-core): the admin publishes an image, creates a
// bare-metal flavor, enrols nodes from an inventory and makes one
// `available`; the tenant deploys a server with one click, sees it ACTIVE
// with an IP, deletes it and the node comes back `available`; the tenant is
// refused the admin pages. Every page is saved as a screenshot (desktop
// 1280 px and phone) into $SHOTS.
//
// Environment: IDENTITY_URL (console at $IDENTITY_URL/ui), ADMIN_PASSWORD,
// IMAGE_FILE (bytes to upload), SHOTS (screenshot folder), CHROMIUM.
import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';

const ID = process.env.IDENTITY_URL;
const SHOTS = process.env.SHOTS;
const ADMIN_PASSWORD = process.env.ADMIN_PASSWORD;
mkdirSync(SHOTS, { recursive: true });
const UI = `${ID}/ui`;
const DESKTOP = { viewport: { width: 1280, height: 860 } };
const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };

function step(what) {
  console.log(`-- ${what}`);
}

// ---- set-up through the APIs: a tenant with a network and a key --------------

async function api(method, url, token, body) {
  const r = await fetch(url, {
    method,
    headers: { 'Content-Type': 'application/json', ...(token ? { 'X-Auth-Token': token } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${url}: ${r.status} ${text}`);
  return { status: r.status, headers: r.headers, json: text ? JSON.parse(text) : null };
}

async function token(user, password, project) {
  const r = await api('POST', `${ID}/v3/auth/tokens`, null, {
    auth: {
      identity: { methods: ['password'], password: { user: { name: user, domain: { name: 'Default' }, password } } },
      scope: { project: { name: project, domain: { name: 'Default' } } },
    },
  });
  const endpoints = {};
  for (const s of r.json.token.catalog) endpoints[s.type] = s.endpoints.find((e) => e.interface === 'public').url;
  return { id: r.headers.get('x-subject-token'), endpoints };
}

async function setUpTenant() {
  const admin = await token('admin', ADMIN_PASSWORD, 'admin');
  const project = (await api('POST', `${ID}/v3/projects`, admin.id, { project: { name: 'demo', domain_id: 'default' } })).json.project;
  const user = (
    await api('POST', `${ID}/v3/users`, admin.id, { user: { name: 'alice', password: 'alice-pw', domain_id: 'default', default_project_id: project.id } })
  ).json.user;
  const member = (await api('GET', `${ID}/v3/roles?name=member`, admin.id)).json.roles[0];
  await api('PUT', `${ID}/v3/projects/${project.id}/users/${user.id}/roles/${member.id}`, admin.id);
  // bare-metal flavors are big: lift the default RAM and CPU quota
  await api('PUT', `${admin.endpoints.compute}/os-quota-sets/${project.id}`, admin.id, { quota_set: { ram: -1, cores: -1 } });
  const alice = await token('alice', 'alice-pw', 'demo');
  const net = (await api('POST', `${alice.endpoints.network}/v2.0/networks`, alice.id, { network: { name: 'demo-net' } })).json.network;
  await api('POST', `${alice.endpoints.network}/v2.0/subnets`, alice.id, {
    subnet: { network_id: net.id, name: 'demo-subnet', ip_version: 4, cidr: '10.20.0.0/24' },
  });
  await api('POST', `${alice.endpoints.compute}/os-keypairs`, alice.id, { keypair: { name: 'alice-laptop' } });
}

// ---- the browser ------------------------------------------------------------------

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: [
    '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
  ],
});

async function shot(page, name) {
  await page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true });
}

// Phone-sized copies of a few pages, with the same session's cookies.
async function phoneShots(context, pages) {
  const phone = await browser.newContext({ ...PHONE, storageState: await context.storageState() });
  const p = await phone.newPage();
  for (const [path, name] of pages) {
    await p.goto(`${UI}${path}`);
    await shot(p, `${name}-phone`);
  }
  await phone.close();
}

async function signIn(context, user, password, project) {
  const page = await context.newPage();
  await page.goto(`${UI}/`);
  assert.match(page.url(), /\/ui\/login/);
  await page.getByLabel('User name').fill(user);
  await page.getByLabel('Password').fill(password);
  await page.getByLabel('Project').fill(project);
  return page;
}

// Waits (polling the live block the page itself refreshes) for a text.
async function waitForText(page, locator, text, seconds = 60) {
  await page.locator(locator).filter({ hasText: text }).first().waitFor({ timeout: seconds * 1000 });
}

let failures = 0;
try {
  step('set-up of the tenant through the APIs');
  await setUpTenant();

  // ---- the admin ----
  const adminCtx = await browser.newContext(DESKTOP);
  let page = await signIn(adminCtx, 'admin', ADMIN_PASSWORD, 'admin');
  await shot(page, 'login');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(/\/ui\/servers/);

  step('admin publishes an image');
  await page.getByRole('link', { name: 'Images' }).click();
  await page.getByLabel('Name').fill('ubuntu-24.04-baremetal');
  await page.getByLabel('Image file').setInputFiles(process.env.IMAGE_FILE);
  await page.getByLabel('Visibility').selectOption('public');
  await page.getByRole('button', { name: 'Upload' }).click();
  await waitForText(page, 'table', 'ubuntu-24.04-baremetal');
  await waitForText(page, 'table', 'active');
  await shot(page, 'admin-images');

  step('admin creates a bare-metal flavor');
  await page.getByRole('link', { name: 'Flavors' }).click();
  await page.getByLabel('Name').fill('bm.gold');
  await page.getByLabel('Node resource class').fill('baremetal-gold');
  await page.getByLabel('CPUs').fill('16');
  await page.getByLabel('RAM (MiB)').fill('65536');
  await page.getByLabel('Disk (GB)').fill('480');
  await page.getByRole('button', { name: 'Create flavor' }).click();
  await waitForText(page, 'table', 'bm.gold');
  await shot(page, 'admin-flavors');

  step('admin enrols two nodes from an inventory');
  await page.getByRole('link', { name: 'Fleet' }).click();
  await page.getByRole('link', { name: 'Enrol nodes' }).click();
  await shot(page, 'admin-enrol');
  const inventory = {
    nodes: ['r1-u01', 'r1-u02'].map((name, i) => ({
      name,
      driver: 'fake-hardware',
      resource_class: 'baremetal-gold',
      network_interface: 'flat',
      owner: null,
      properties: { cpus: 16, memory_mb: 65536, local_gb: 480, cpu_arch: 'x86_64' },
      ports: [
        {
          address: `52:54:00:10:00:0${i + 1}`,
          local_link_connection: { switch_id: '00:11:22:33:44:55', port_id: `xe-0/0/${i + 1}`, switch_info: 'leaf1' },
        },
      ],
    })),
  };
  inventory.nodes.forEach((n) => delete n.owner);
  await page.getByLabel('Inventory', { exact: true }).fill(JSON.stringify(inventory, null, 2));
  await page.getByRole('button', { name: 'Enrol all' }).click();
  await waitForText(page, 'main', '2 of 2 nodes enrolled');
  await shot(page, 'admin-enrolled');

  step('admin manages and provides r1-u01 until it is available');
  await page.locator('tr', { hasText: 'r1-u01' }).getByRole('link').click();
  await waitForText(page, '.state', 'enroll');
  await page.getByRole('button', { name: 'Manage' }).click();
  await waitForText(page, '.state', 'manageable');
  await page.getByRole('button', { name: 'Provide' }).click();
  await waitForText(page, '.state', 'available', 120);
  await waitForText(page, '.timeline', 'available');
  await shot(page, 'admin-node');

  step('the fleet shows counts per state and filters');
  await page.getByRole('link', { name: 'Fleet' }).click();
  await waitForText(page, 'table', 'r1-u02');
  await shot(page, 'admin-fleet');
  await page.getByLabel('Provision state').fill('available');
  await page.getByRole('button', { name: 'Filter' }).click();
  await page.waitForURL(/provision_state=available/);
  assert.equal(await page.locator('tbody tr', { hasText: 'r1-u02' }).count(), 0, 'the filter hides r1-u02 (enroll)');
  assert.equal(await page.locator('tbody tr', { hasText: 'r1-u01' }).count(), 1);
  await phoneShots(adminCtx, [['/admin/nodes', 'admin-fleet']]);

  // ---- the tenant ----
  step('tenant deploys with one click');
  const tenantCtx = await browser.newContext(DESKTOP);
  page = await signIn(tenantCtx, 'alice', 'alice-pw', 'demo');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(/\/ui\/servers/);
  await shot(page, 'servers-empty');
  await page.getByRole('link', { name: 'Deploy a server' }).click();
  await page.waitForURL(/\/ui\/deploy/);
  assert.ok(await page.getByRole('radio', { name: /bm\.gold/ }).isChecked(), 'the only flavor is preselected');
  assert.equal(await page.getByLabel('Network').inputValue() !== '', true, 'a network is preselected');
  await shot(page, 'deploy');
  await phoneShots(tenantCtx, [['/deploy', 'deploy']]);
  await page.getByRole('button', { name: 'Deploy', exact: true }).click();
  await page.waitForURL(/\/ui\/servers/);
  await waitForText(page, 'tbody', 'BUILD', 30).catch(() => {});
  await shot(page, 'servers-build');
  await waitForText(page, 'tbody', 'ACTIVE', 180);
  await waitForText(page, 'tbody', '10.20.0.');
  await shot(page, 'servers-active');
  await phoneShots(tenantCtx, [['/servers', 'servers-active']]);

  step('a second deploy finds no free node and says so');
  await page.getByRole('link', { name: 'Deploy a server' }).click();
  await page.getByRole('button', { name: 'Deploy', exact: true }).click();
  await page.waitForURL(/\/ui\/servers/);
  await waitForText(page, 'tbody', 'No free server of this flavor', 120);
  await shot(page, 'servers-error');

  step('tenant deletes both servers');
  for (let left = 2; left > 0; left--) {
    await page.getByRole('link', { name: /^Delete / }).first().click();
    await page.waitForURL(/\/delete$/);
    if (left === 2) await shot(page, 'delete-confirm');
    await page.getByRole('button', { name: /^Delete / }).click();
    await page.waitForURL(/\/ui\/servers(\?|$)/);
    await page.waitForFunction((n) => document.querySelectorAll('tbody tr[data-server]').length < n, left, { timeout: 120000 });
  }
  await shot(page, 'servers-deleted');

  step('the tenant is refused the admin pages');
  for (const path of ['/admin/nodes', '/admin/flavors', '/admin/images', '/admin/nodes/new']) {
    const r = await page.goto(`${UI}${path}`);
    assert.equal(r.status(), 403, `${path} for a member`);
  }
  await shot(page, 'tenant-forbidden');

  step('the node is cleaned and returns to available');
  page = await adminCtx.newPage();
  await page.goto(`${UI}/admin/nodes?name=r1-u01`);
  await page.getByRole('link', { name: 'r1-u01' }).first().click();
  await waitForText(page, '.state', 'available', 180);
  await waitForText(page, '.timeline', 'cleaning');
  await shot(page, 'admin-node-returned');
  console.log('ALL PASSED');
} catch (e) {
  failures++;
  console.error(e);
  for (const ctx of browser.contexts()) {
    for (const p of ctx.pages()) await p.screenshot({ path: `${process.env.FAILURES || SHOTS}/failure-${Date.now()}.png` }).catch(() => {});
  }
} finally {
  await browser.close();
}
process.exit(failures ? 1 : 0);
