// Passkeys on the vault's pages: sign in with one (/ui/login), confirm a
// password sign-in with one (the second factor), and add one (/ui/account).
// The only script the pages load; it calls the same JSON API as any client,
// and the server checks everything.
'use strict';

async function postJSON(path, body, csrf) {
  const headers = { 'content-type': 'application/json' };
  if (csrf) headers['x-vault-csrf'] = csrf;
  const r = await fetch(path, { method: 'POST', headers, body: JSON.stringify(body) });
  let data = null;
  try { data = await r.json(); } catch (_) { /* no body */ }
  return { ok: r.ok, body: data };
}

function show(id, message) {
  const e = document.getElementById(id);
  if (e) { e.textContent = message; e.hidden = false; }
}

function reason(res, fallback) {
  return (res.body && res.body.error && res.body.error.message) || fallback;
}

async function signIn(button) {
  try {
    const start = await postJSON('/v1/auth/passkeys/login/start', {});
    if (!start.ok) return show('passkey-error', reason(start, 'Passkey sign-in could not start.'));
    const cred = await navigator.credentials.get({
      publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(start.body.options.publicKey),
    });
    const done = await postJSON('/v1/auth/passkeys/login/finish',
      { ceremony_id: start.body.ceremony_id, credential: cred.toJSON() });
    if (!done.ok) return show('passkey-error', reason(done, 'The passkey was refused.'));
    window.location.assign(button.dataset.next || '/ui/');
  } catch (e) {
    show('passkey-error', 'No passkey was used (' + e.name + ').');
  }
}

// The second factor of a password sign-in: the challenge is in the page.
async function confirm(button) {
  try {
    const options = JSON.parse(button.dataset.options);
    const cred = await navigator.credentials.get({
      publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options.publicKey),
    });
    const done = await postJSON('/v1/auth/passkeys/login/finish',
      { ceremony_id: button.dataset.ceremony, credential: cred.toJSON() });
    if (!done.ok) {
      button.disabled = true;
      return show('mfa-error', reason(done, 'The passkey was refused.') + ' Sign in again.');
    }
    window.location.assign(button.dataset.next || '/ui/');
  } catch (e) {
    show('mfa-error', 'No passkey was used (' + e.name + '). Try again, or use a recovery code.');
  }
}

async function add(button) {
  const name = document.getElementById('passkey-name').value.trim();
  if (!name) return show('passkey-add-error', 'Give the passkey a name (for example, the device).');
  const csrf = button.dataset.csrf;
  try {
    const start = await postJSON('/v1/auth/passkeys/register/start', { name }, csrf);
    if (!start.ok) return show('passkey-add-error', reason(start, 'Could not start.'));
    const cred = await navigator.credentials.create({
      publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(start.body.options.publicKey),
    });
    const done = await postJSON('/v1/auth/passkeys/register/finish',
      { ceremony_id: start.body.ceremony_id, credential: cred.toJSON() }, csrf);
    if (!done.ok) return show('passkey-add-error', reason(done, 'The passkey was refused.'));
    const codes = done.body && done.body.recovery_codes;
    if (codes && codes.length) {
      // Shown once: the page reloads only when the person says so.
      document.getElementById('recovery-codes').textContent = codes.join('\n');
      document.getElementById('recovery').hidden = false;
      return;
    }
    window.location.reload();
  } catch (e) {
    show('passkey-add-error', 'No passkey was made (' + e.name + ').');
  }
}

document.addEventListener('DOMContentLoaded', () => {
  const signInButton = document.getElementById('passkey-login');
  if (signInButton) signInButton.addEventListener('click', () => signIn(signInButton));
  const confirmButton = document.getElementById('mfa-confirm');
  if (confirmButton) confirmButton.addEventListener('click', () => confirm(confirmButton));
  const savedButton = document.getElementById('recovery-done');
  if (savedButton) savedButton.addEventListener('click', () => window.location.reload());
  const addButton = document.getElementById('passkey-add');
  if (addButton) addButton.addEventListener('click', () => add(addButton));
});
