// A JWT issuer for the workload identity tests, the way a CI system or a
// cluster is one: discovery at /.well-known/openid-configuration, keys at
// /jwks (RS256, ES256 and EdDSA), and tokens signed on request. Started by
// tests/src/idp.rs: `node issuer.mjs`; prints `ISSUER=http://127.0.0.1:PORT`.
//
// Test controls (loopback only, never part of a real issuer):
//   POST /__test/sign   {claims, alg?, kid?, tamper?}  -> {jwt}
//        alg: RS256 (default) | ES256 | EdDSA; claims are merged over
//        iss = this issuer, iat = now, exp = now + 300.
//        tamper: "none" (alg none, no signature), "hmac-with-public-key"
//        (HS256 keyed with the RSA public key's PEM), "sig" (a flipped
//        signature byte), "unknown-kid" (signed by a key not published).
//   POST /__test/rotate  -> a new RS256 key replaces the old one in /jwks
// A stand-in for GitHub's ID-token endpoint (ACTIONS_ID_TOKEN_REQUEST_URL):
//   GET /actions/token?audience=AUD with `Authorization: bearer $REQUEST_TOKEN`
//   -> {"value": JWT} with GitHub-shaped claims (GITHUB_CLAIMS env, JSON).
import http from 'node:http';
import { createHmac, randomUUID } from 'node:crypto';
import { SignJWT, exportJWK, exportSPKI, generateKeyPair } from 'jose';

const REQUEST_TOKEN = process.env.REQUEST_TOKEN || 'gh-request-token';
const b64u = (b) => Buffer.from(b).toString('base64url');

const keys = {};
async function newKey(alg) {
  const opts = alg === 'EdDSA' ? { crv: 'Ed25519' } : {};
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true, ...opts });
  const kid = `${alg.toLowerCase()}-${randomUUID().slice(0, 8)}`;
  return { alg, kid, publicKey, privateKey };
}
keys.RS256 = await newKey('RS256');
keys.ES256 = await newKey('ES256');
keys.EdDSA = await newKey('EdDSA');
const stray = await newKey('RS256'); // never published

async function jwks() {
  const out = [];
  for (const k of Object.values(keys)) {
    out.push({ ...(await exportJWK(k.publicKey)), kid: k.kid, alg: k.alg, use: 'sig' });
  }
  return { keys: out };
}

let issuer = '';
async function sign({ claims = {}, alg = 'RS256', tamper }) {
  const now = Math.floor(Date.now() / 1000);
  const payload = { iss: issuer, iat: now, exp: now + 300, ...claims };
  const key = tamper === 'unknown-kid' ? stray : keys[alg];
  if (tamper === 'none') {
    return `${b64u(JSON.stringify({ alg: 'none', typ: 'JWT' }))}.${b64u(JSON.stringify(payload))}.`;
  }
  if (tamper === 'hmac-with-public-key') {
    const pem = await exportSPKI(keys.RS256.publicKey);
    const head = b64u(JSON.stringify({ alg: 'HS256', typ: 'JWT', kid: keys.RS256.kid }));
    const body = b64u(JSON.stringify(payload));
    const sig = createHmac('sha256', pem).update(`${head}.${body}`).digest('base64url');
    return `${head}.${body}.${sig}`;
  }
  const jwt = await new SignJWT(payload)
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' })
    .sign(key.privateKey);
  if (tamper === 'sig') {
    const [h, p, s] = jwt.split('.');
    return `${h}.${p}.${s.slice(0, 10)}${s[10] === 'A' ? 'B' : 'A'}${s.slice(11)}`;
  }
  return jwt;
}

const body = (req) => new Promise((resolve) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => resolve(Buffer.concat(chunks).toString()));
});
const json = (res, status, obj) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(obj));
};

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, issuer);
  try {
    if (req.method === 'GET' && url.pathname === '/.well-known/openid-configuration') {
      return json(res, 200, { issuer, jwks_uri: `${issuer}/jwks`, id_token_signing_alg_values_supported: ['RS256', 'ES256', 'EdDSA'] });
    }
    if (req.method === 'GET' && url.pathname === '/jwks') return json(res, 200, await jwks());
    if (req.method === 'POST' && url.pathname === '/__test/sign') {
      return json(res, 200, { jwt: await sign(JSON.parse((await body(req)) || '{}')) });
    }
    if (req.method === 'POST' && url.pathname === '/__test/rotate') {
      keys.RS256 = await newKey('RS256');
      return json(res, 200, { kid: keys.RS256.kid });
    }
    if (req.method === 'GET' && url.pathname === '/actions/token') {
      if (req.headers.authorization !== `bearer ${REQUEST_TOKEN}`) return json(res, 401, { message: 'bad request token' });
      const aud = url.searchParams.get('audience');
      if (!aud) return json(res, 400, { message: 'audience missing' });
      const claims = { ...JSON.parse(process.env.GITHUB_CLAIMS || '{}'), aud, jti: randomUUID() };
      return json(res, 200, { value: await sign({ claims }) });
    }
    json(res, 404, { message: 'not found' });
  } catch (e) {
    json(res, 500, { message: String(e) });
  }
});
server.listen(0, '127.0.0.1', () => {
  issuer = `http://127.0.0.1:${server.address().port}`;
  console.log(`ISSUER=${issuer}`);
});
