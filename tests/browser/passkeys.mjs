// Passkeys in a real browser (Debian's Chromium via playwright-core, with a
// CDP virtual authenticator: resident keys, user verification).
// Usage: VAULT_UI=http://localhost:PORT VAULT_USER=alice VAULT_PW=... node passkeys.mjs
//
// 1. sign in with the password; on /ui/ name and add a passkey (the page's
//    script, under the pages' CSP); it is listed;
// 2. in a fresh context (no cookie), "Sign in with a passkey" on /ui/login
//    lands signed in on /ui/;
// 3. the same answer posted again for a new ceremony is refused, and a
//    sign-in posted from another site is refused (login CSRF);
// 4. deleted with the page's button, the passkey signs nobody in.
import { chromium } from 'playwright-core';

const UI = process.env.VAULT_UI;
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

// In the page: JSON POST with the session's CSRF token (when given).
const post = (page, path, body, csrf) => page.evaluate(async ([path, body, csrf]) => {
  const headers = { 'content-type': 'application/json' };
  if (csrf) headers['x-vault-csrf'] = csrf;
  const r = await fetch(path, { method: 'POST', headers, body: JSON.stringify(body) });
  return { status: r.status, body: await r.json().catch(() => null) };
}, [path, body, csrf]);

try {
  const a = await browser.newContext();
  const page = await a.newPage();
  const { cdp, authenticatorId } = await authenticator(page);
  await page.goto(`${UI}/ui/login`);
  await page.fill('#username', process.env.VAULT_USER);
  await page.fill('#password', process.env.VAULT_PW);
  await Promise.all([page.waitForURL(`${UI}/ui/`), page.click('button[type=submit]')]);
  const csrf = await page.getAttribute('input[name=csrf]', 'value');
  check('signed in with the password; the page carries a CSRF token', !!csrf);

  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  await page.fill('#passkey-name', 'laptop');
  await Promise.all([page.waitForEvent('load'), page.click('#passkey-add')]);
  const table = await page.textContent('main');
  check('the page added the passkey and lists it', table.includes('laptop'), table);
  check('no script error or CSP violation on the page', errors.length === 0, errors.join(' | '));
  const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
  check('the authenticator holds a discoverable credential', credentials.length === 1 && credentials[0].isResidentCredential,
    JSON.stringify(credentials.map((c) => c.isResidentCredential)));
  const list = await page.evaluate(async () => (await fetch('/v1/auth/passkeys')).json());
  check('it is listed', list.passkeys.length === 1, JSON.stringify(list));

  // A fresh context: no cookie. The same virtual authenticator's credential
  // is added to it, as a person's phone or laptop would carry it.
  const b = await browser.newContext();
  const p2 = await b.newPage();
  const second = await authenticator(p2);
  await second.cdp.send('WebAuthn.addCredential', { authenticatorId: second.authenticatorId, credential: credentials[0] });
  await p2.goto(`${UI}/ui/login`);
  await Promise.all([p2.waitForURL(`${UI}/ui/`), p2.click('#passkey-login')]);
  const h = await p2.textContent('h1');
  check('"Sign in with a passkey" on the page signs in', h.includes(process.env.VAULT_USER), h);
  await b.clearCookies();
  const signIn = () => p2.evaluate(async () => {
    const s = await (await fetch('/v1/auth/passkeys/login/start', { method: 'POST',
      headers: { 'content-type': 'application/json' }, body: '{}' })).json();
    const cred = await navigator.credentials.get({
      publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(s.options.publicKey) });
    const answer = cred.toJSON();
    const r = await fetch('/v1/auth/passkeys/login/finish', { method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ceremony_id: s.ceremony_id, credential: answer }) });
    return { status: r.status, body: await r.json(), answer };
  });
  const login = await signIn();
  check('signed in with the passkey alone', login.status === 200 && login.body.username === process.env.VAULT_USER,
    JSON.stringify(login.body));
  await p2.goto(`${UI}/ui/`);
  const heading = await p2.textContent('h1');
  check('the session cookie is set: /ui/ shows the user', heading.includes(process.env.VAULT_USER), heading);

  // Signed out again (a cookie request would need the CSRF token).
  await b.clearCookies();
  // The same answer for a new ceremony: not its challenge.
  const s2 = await post(p2, '/v1/auth/passkeys/login/start', {});
  const replay = await post(p2, '/v1/auth/passkeys/login/finish',
    { ceremony_id: s2.body.ceremony_id, credential: login.answer });
  check('a replayed answer is refused', replay.status === 401 && JSON.stringify(replay.body).includes('wrong_challenge'),
    JSON.stringify(replay));

  // Another site cannot sign a visitor in (login CSRF).
  const s3 = await post(p2, '/v1/auth/passkeys/login/start', {});
  const forged = await b.request.post(`${UI}/v1/auth/passkeys/login/finish`, {
    headers: { origin: 'http://evil.example', 'sec-fetch-site': 'cross-site' },
    data: { ceremony_id: s3.body.ceremony_id, credential: login.answer },
  });
  check('a sign-in posted from another site is refused', forged.status() === 403, String(forged.status()));

  // Deleted with the page's button, it signs nobody in.
  await page.reload();
  await Promise.all([page.waitForEvent('load'), page.click('form[action^="/ui/passkeys/"] button')]);
  const after_del = await page.textContent('main');
  check('the page deleted the passkey', after_del.includes('No passkeys yet.'), after_del);
  const after = await signIn();
  check('a deleted passkey signs nobody in', after.status === 401, JSON.stringify(after.body));
} catch (e) {
  check('no exception', false, e.stack);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
