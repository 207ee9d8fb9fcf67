// Single sign-on in a real browser (Debian's Chromium via playwright-core).
// Usage: VAULT_UI=http://127.0.0.1:PORT IDP=http://127.0.0.1:PORT SHOTS=/dir node sso.mjs
//
// 1. /ui/login shows the provider's button; clicking it goes to the IdP;
// 2. sign in and consent at the IdP (oidc-provider's own pages);
// 3. back on /ui/, signed in as alice with the role her group gives;
// 4. sign out: back on the sign-in page, and /ui/ asks to sign in again.
import { chromium } from 'playwright-core';

const UI = process.env.VAULT_UI;
const IDP = process.env.IDP;
const SHOTS = process.env.SHOTS;
let failed = 0;
const check = (name, ok, detail) => {
  console.log(`${ok ? 'PASS' : 'FAIL'} ${name}`, ok ? '' : (detail ?? ''));
  if (!ok) failed++;
};

const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: FLAGS });
try {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await page.goto(`${UI}/ui/login`);
  const button = page.locator('a.button', { hasText: 'Sign in with Corp SSO' });
  check('the sign-in page has the SSO button', (await button.count()) === 1);
  await page.screenshot({ path: `${SHOTS}/sso-login.png`, fullPage: true });
  await Promise.all([page.waitForURL((u) => u.href.startsWith(IDP)), button.click()]);
  check('the button leads to the IdP', page.url().startsWith(IDP), page.url());
  await page.fill('input[name=login]', 'alice');
  await page.fill('input[name=password]', 'alice-pw');
  await Promise.all([page.waitForLoadState('load'), page.click('button[type=submit]')]);
  if (page.url().startsWith(IDP)) {
    // The consent page.
    await Promise.all([page.waitForURL(`${UI}/ui/`), page.click('button[type=submit]')]);
  }
  check('back on the home page', page.url() === `${UI}/ui/`, page.url());
  const heading = await page.textContent('h1');
  check('signed in as alice', heading.includes('alice'), heading);
  const body = await page.textContent('main');
  check('the group gave the reader role on payments/*', body.includes('reader') && body.includes('payments/*'), body);
  const cookies = await ctx.cookies();
  const c = cookies.find((x) => x.name === '__Host-vault_session');
  check('the session cookie is HttpOnly, Secure, SameSite=Lax', c && c.httpOnly && c.secure && c.sameSite === 'Lax', JSON.stringify(c));
  await page.screenshot({ path: `${SHOTS}/sso-home.png`, fullPage: true });
  await Promise.all([page.waitForURL(/\/ui\/login/), page.click('form[action="/ui/logout"] button')]);
  check('signed out', page.url().includes('/ui/login'), page.url());
  await page.goto(`${UI}/ui/`);
  check('the home page wants a sign-in again', page.url().includes('/ui/login'), page.url());
} catch (e) {
  check('no exception', false, e.stack);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
