// Passkeys in a real browser (Debian's Chromium via playwright-core, with a
// CDP virtual authenticator: resident keys, user verification).
// Usage: VAULT_UI=http://localhost:PORT VAULT_USER=alice VAULT_PW=...
//        VAULT_ROOT=<root token> VAULT_SECRET=/v1/... VAULT_TRASHED=/v1/...
//        VAULT_CLI_URL=<the URL `vault login --web` printed> node passkeys.mjs
//
// 1. a password-only session does not hold the role that requires MFA (the
//    home page says so; the secret is refused);
// 2. on /ui/account a passkey is added (the page shows the 10 recovery codes
//    once), renamed, listed;
// 3. in a fresh browser, "Sign in with a passkey" alone reads the secret;
//    a replayed answer and a cross-site sign-in are refused;
// 4. a password sign-in now asks for the passkey (the page's button);
// 5. a destroy after identity.step_up_secs needs the passkey again (401
//    auth.step_up_required, then step-up, then it works);
// 6. a recovery code replaces the passkey once;
// 7. `vault login --web`: the signed-in browser hands the sign-in to the CLI;
// 8. the last passkey of a holder of a role that requires MFA stays.
import { chromium } from 'playwright-core';

const UI = process.env.VAULT_UI;
const USER = process.env.VAULT_USER;
let failed = 0;
const check = (name, ok, detail) => {
  console.log(`${ok ? 'PASS' : 'FAIL'} ${name}`, ok ? '' : (detail ?? ''));
  if (!ok) failed++;
};

const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: FLAGS });

async function authenticator(page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true,
      hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
  });
  return { cdp, authenticatorId };
}

// A browser (context) holding the passkey `cred`, on the sign-in page.
async function withPasskey(cred) {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  const a = await authenticator(page);
  if (cred) await a.cdp.send('WebAuthn.addCredential', { authenticatorId: a.authenticatorId, credential: cred });
  await page.goto(`${UI}/ui/login`);
  return { ctx, page, ...a };
}

// In the page: a JSON call with the session's CSRF token (when given).
const call = (page, method, path, body, csrf) => page.evaluate(async ([method, path, body, csrf]) => {
  const headers = { 'content-type': 'application/json' };
  if (csrf) headers['x-vault-csrf'] = csrf;
  const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: r.status, body: await r.json().catch(() => null) };
}, [method, path, body, csrf]);
const post = (page, path, body, csrf) => call(page, 'POST', path, body, csrf);

async function passwordSignIn(page) {
  await page.fill('#username', USER);
  await page.fill('#password', process.env.VAULT_PW);
  await Promise.all([page.waitForEvent('load'), page.click('button[type=submit]')]);
}

const csrfOf = async (page) => {
  await page.goto(`${UI}/ui/`);
  return page.getAttribute('input[name=csrf]', 'value');
};

try {
  // 1. Password only: the role that requires MFA is withheld.
  const a = await withPasskey(null);
  const page = a.page;
  await passwordSignIn(page);
  const home = await page.textContent('main');
  check('a password-only session is told which roles it lacks', home.includes('Roles this session does not have') && home.includes('prod-admin'), home);
  const denied = await call(page, 'GET', process.env.VAULT_SECRET);
  check('and it cannot read the secret', denied.status === 403, JSON.stringify(denied));
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });

  // 2. Add a passkey on /ui/account: the recovery codes are shown once.
  await page.goto(`${UI}/ui/account`);
  await page.fill('#passkey-name', 'laptop');
  await page.click('#passkey-add');
  await page.waitForSelector('#recovery:not([hidden])');
  const codes = (await page.textContent('#recovery-codes')).trim().split('\n');
  check('the first passkey comes with 10 recovery codes', codes.length === 10 && /^[0-9A-Z]{4}(-[0-9A-Z]{4}){3}$/.test(codes[0]), codes.join(','));
  await Promise.all([page.waitForEvent('load'), page.click('#recovery-done')]);
  check('the account page lists it', (await page.textContent('main')).includes('laptop'));
  await page.fill('form.inline input[name=name]', 'work laptop');
  await Promise.all([page.waitForEvent('load'), page.click('form.inline button')]);
  check('renamed on the page', (await page.textContent('td.name')).includes('work laptop'), await page.textContent('main'));
  check('no script error or CSP violation on the pages', errors.length === 0, errors.join(' | '));
  const { credentials } = await a.cdp.send('WebAuthn.getCredentials', { authenticatorId: a.authenticatorId });
  check('the authenticator holds a discoverable credential', credentials.length === 1 && credentials[0].isResidentCredential);
  const cred = credentials[0];

  // 3. Passwordless, in a fresh browser that carries the passkey.
  const b = await withPasskey(cred);
  await Promise.all([b.page.waitForURL(`${UI}/ui/`), b.page.click('#passkey-login')]);
  check('"Sign in with a passkey" signs in', (await b.page.textContent('h1')).includes(USER));
  const secret = await call(b.page, 'GET', process.env.VAULT_SECRET);
  check('a passkey session reads through the role that requires MFA', secret.status === 200 && secret.body.value === 'sk_live_1', JSON.stringify(secret));
  await b.ctx.clearCookies();
  const signIn = () => b.page.evaluate(async () => {
    const s = await (await fetch('/v1/auth/passkeys/login/start', { method: 'POST',
      headers: { 'content-type': 'application/json' }, body: '{}' })).json();
    const c = await navigator.credentials.get({ publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(s.options.publicKey) });
    const answer = c.toJSON();
    const r = await fetch('/v1/auth/passkeys/login/finish', { method: 'POST',
      headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ceremony_id: s.ceremony_id, credential: answer }) });
    return { status: r.status, body: await r.json(), answer };
  });
  const login = await signIn();
  check('signed in with the passkey through the API', login.status === 200 && login.body.username === USER, JSON.stringify(login.body));
  await b.ctx.clearCookies();
  const s2 = await post(b.page, '/v1/auth/passkeys/login/start', {});
  const replay = await post(b.page, '/v1/auth/passkeys/login/finish', { ceremony_id: s2.body.ceremony_id, credential: login.answer });
  check('a replayed answer is refused', replay.status === 401 && JSON.stringify(replay.body).includes('wrong_challenge'), JSON.stringify(replay));
  const s3 = await post(b.page, '/v1/auth/passkeys/login/start', {});
  const forged = await b.ctx.request.post(`${UI}/v1/auth/passkeys/login/finish`, {
    headers: { origin: 'http://evil.example', 'sec-fetch-site': 'cross-site' },
    data: { ceremony_id: s3.body.ceremony_id, credential: login.answer },
  });
  check('a sign-in posted from another site is refused', forged.status() === 403, String(forged.status()));

  // 4. Password + passkey on the page (the same authenticator: a copy made
  //    earlier has an older sign counter and is refused as a clone).
  await b.ctx.clearCookies();
  await b.page.goto(`${UI}/ui/login`);
  const c = b;
  await passwordSignIn(c.page);
  check('a password sign-in asks for the passkey', (await c.page.textContent('h1')).includes('Confirm with your passkey'));
  await c.page.click('#mfa-confirm');
  await c.page.waitForFunction(() => location.pathname === '/ui/' || !document.getElementById('mfa-error').hidden);
  check('the page\'s passkey button finishes the sign-in', new URL(c.page.url()).pathname === '/ui/',
    await c.page.textContent('main'));
  const who = await call(c.page, 'GET', '/v1/auth/whoami');
  check('then it is signed in with password + passkey', who.body.login_method === 'password' && who.body.second_factor === 'passkey', JSON.stringify(who.body));

  // 5. Step-up for a destroy, once the passkey proof is over 5 minutes old.
  const clock = await fetch(`${UI}/v1/sys/danger-test-clock`, { method: 'POST',
    headers: { authorization: `Bearer ${process.env.VAULT_ROOT}`, 'content-type': 'application/json' },
    body: JSON.stringify({ advance_secs: 301 }) });
  check('the server clock moved 301 s', clock.status === 200, String(clock.status));
  const csrf = await csrfOf(c.page);
  const destroy1 = await call(c.page, 'DELETE', process.env.VAULT_TRASHED, undefined, csrf);
  check('a destroy needs the passkey again', destroy1.status === 401 && destroy1.body.error.code === 'auth.step_up_required', JSON.stringify(destroy1));
  const stepped = await c.page.evaluate(async (csrf) => {
    const h = { 'content-type': 'application/json', 'x-vault-csrf': csrf };
    const s = await (await fetch('/v1/auth/passkeys/step-up/start', { method: 'POST', headers: h, body: '{}' })).json();
    const cr = await navigator.credentials.get({ publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(s.options.publicKey) });
    const r = await fetch('/v1/auth/passkeys/step-up/finish', { method: 'POST', headers: h,
      body: JSON.stringify({ ceremony_id: s.ceremony_id, credential: cr.toJSON() }) });
    return r.status;
  }, csrf);
  check('the step-up with the passkey succeeds', stepped === 204, String(stepped));
  const destroy2 = await call(c.page, 'DELETE', process.env.VAULT_TRASHED, undefined, csrf);
  check('then the destroy goes through', destroy2.status === 204, JSON.stringify(destroy2));

  // 6. A recovery code instead of the passkey, once.
  const d = await withPasskey(null);
  await passwordSignIn(d.page);
  await d.page.click('details summary');
  await d.page.fill('#recovery_code', codes[0].toLowerCase());
  await Promise.all([d.page.waitForURL(`${UI}/ui/`), d.page.click('details button[type=submit]')]);
  const rwho = await call(d.page, 'GET', '/v1/auth/whoami');
  check('a recovery code signs in once', rwho.body.second_factor === 'recovery_code', JSON.stringify(rwho.body));
  const e = await withPasskey(null);
  await passwordSignIn(e.page);
  await e.page.click('details summary');
  await e.page.fill('#recovery_code', codes[0]);
  await Promise.all([e.page.waitForEvent('load'), e.page.click('details button[type=submit]')]);
  check('and not twice', (await e.page.textContent('main')).includes('wrong or used already'), await e.page.textContent('main'));

  // 7. `vault login --web`, finished in the browser that signed in with
  //    the passkey: the page asks, then hands over to the CLI's listener.
  const cliUrl = process.env.VAULT_CLI_URL.replace('http://127.0.0.1:', 'http://localhost:');
  await b.ctx.clearCookies();
  await b.page.goto(cliUrl);
  await Promise.all([b.page.waitForURL(/\/ui\/cli\?/), b.page.click('#passkey-login')]);
  check('after signing in, the page names the CLI\'s port', (await b.page.textContent('main')).includes('waiting on port'));
  await Promise.all([b.page.waitForURL(/127\.0\.0\.1:\d+\/callback/), b.page.click('#continue')]);
  check('the browser reached the CLI', (await b.page.textContent('body')).length > 0);

  // 8. The last passkey stays.
  //    (b signed in with the passkey last: its proof is fresh, so this is
  //    not refused for step-up.)
  await b.page.goto(`${UI}/ui/account`);
  await Promise.all([b.page.waitForEvent('load'), b.page.click('form[action$="/delete"] button')]);
  const afterDelete = await b.page.textContent('main');
  check('a holder of a role that requires MFA cannot delete the last passkey', afterDelete.includes('last passkey'), afterDelete);
} catch (err) {
  check('no exception', false, err.stack);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
