// The vault's pages in a real browser (Debian's Chromium via playwright-core).
// Usage: VAULT_UI=http://localhost:PORT VAULT_USER=alice VAULT_PW=... \
//        ATTACKER_PORT=PORT SHOTS=/dir node ui.mjs        (exit 0: every check passed)
//
// 1. sign in through the form and see the home page (name, role, scope);
// 2. a second browser (context) signs in as the same user; the first revokes
//    the second's session from its page; the second's next request is out;
// 3. a page on another origin posts a sign-out form with the cookie: nothing
//    changes (CSRF);
// 4. sign out: the home page sends back to sign-in.
import { chromium } from 'playwright-core';
import { createServer } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const UI = process.env.VAULT_UI;
const USER = process.env.VAULT_USER;
const PW = process.env.VAULT_PW;
const SHOTS = process.env.SHOTS;
let failed = 0;
const check = (name, ok, detail) => {
  console.log(`${ok ? 'PASS' : 'FAIL'} ${name}`, ok ? '' : (detail ?? ''));
  if (!ok) failed++;
};

const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const profile = mkdtempSync(join(tmpdir(), 'vault-chromium-'));
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: FLAGS });

// The attacker: another origin whose page auto-posts a sign-out form to the vault.
const attacker = createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/html' });
  res.end(`<!doctype html><form id=f method=post action="${UI}/ui/logout">
    <input type=hidden name=csrf value=guess></form><script>document.getElementById('f').submit()</script>`);
});
await new Promise((r) => attacker.listen(Number(process.env.ATTACKER_PORT), '127.0.0.1', r));

async function signIn(context) {
  const page = await context.newPage();
  await page.goto(`${UI}/ui/login`);
  await page.fill('#username', USER);
  await page.fill('#password', PW);
  await Promise.all([page.waitForURL(`${UI}/ui/`), page.click('button[type=submit]')]);
  return page;
}

try {
  const a = await browser.newContext();
  const b = await browser.newContext();
  const pa = await signIn(a);
  const heading = await pa.textContent('h1');
  check('signed in: the home page names the user', heading.includes(USER), heading);
  const body = await pa.textContent('main');
  check('the home page lists the role and scope', body.includes('reader') && body.includes('payments/*'), body);
  const cookies = await a.cookies();
  const c = cookies.find((x) => x.name === '__Host-vault_session');
  check('the session cookie is HttpOnly, Secure, SameSite=Lax', c && c.httpOnly && c.secure && c.sameSite === 'Lax', JSON.stringify(c));
  check('scripts cannot read the cookie', !(await pa.evaluate(() => document.cookie)).includes('vault_session'));
  if (SHOTS) await pa.screenshot({ path: join(SHOTS, 'home.png'), fullPage: true });

  const pb = await signIn(b);
  check('a second browser signs in', (await pb.textContent('h1')).includes(USER));
  await pa.reload();
  const rows = await pa.locator('tbody tr:not(.current)').count();
  check('the first browser sees the other session', rows >= 1, String(rows));
  await Promise.all([pa.waitForURL(`${UI}/ui/`), pa.locator('tbody tr:not(.current) button.danger').first().click()]);
  await pb.goto(`${UI}/ui/`);
  check('the revoked browser is sent to sign in, and told why', pb.url() === `${UI}/ui/login?notice=session-ended`
    && (await pb.textContent('.notice')).includes('session has ended'), pb.url());
  check('the revoking browser stays in', (await pa.textContent('h1')).includes(USER));

  // CSRF: the attacker's page posts sign-out with the victim's cookie.
  const evil = await a.newPage();
  const seen = [];
  evil.on('response', (r) => { if (r.url().startsWith(`${UI}/ui/logout`)) seen.push(r.status()); });
  // localhost on another port: the same site (the cookie goes along, SameSite
  // does not help), another origin (our checks must).
  await evil.goto(`http://localhost:${process.env.ATTACKER_PORT}/`);
  await evil.waitForLoadState('networkidle');
  check('the forged sign-out is refused', seen.length === 1 && seen[0] === 403, JSON.stringify(seen));
  await pa.goto(`${UI}/ui/`);
  check('after the forged post the session is still there', pa.url() === `${UI}/ui/` && (await pa.textContent('h1')).includes(USER), pa.url());

  await Promise.all([pa.waitForURL(`${UI}/ui/login?notice=signed-out`), pa.click('form[action="/ui/logout"] button')]);
  check('signed out, and told so', (await pa.textContent('.notice')).includes('You signed out.'));
  await pa.goto(`${UI}/ui/`);
  check('signed out: the home page sends to sign in', pa.url().startsWith(`${UI}/ui/login`), pa.url());
  // A phone-sized screen: nothing sticks out of the page.
  await pa.setViewportSize({ width: 360, height: 740 });
  await signIn(a).then(async (p) => {
    await p.setViewportSize({ width: 360, height: 740 });
    const wide = await p.evaluate(() => document.documentElement.scrollWidth);
    check('the home page fits a 360 px screen', wide <= 360, String(wide));
    if (SHOTS) await p.screenshot({ path: join(SHOTS, 'home-narrow.png'), fullPage: true });
  });
  if (SHOTS) await pa.screenshot({ path: join(SHOTS, 'login.png'), fullPage: true });
} catch (e) {
  check('no exception', false, e.stack);
} finally {
  await browser.close();
  attacker.close();
  rmSync(profile, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
