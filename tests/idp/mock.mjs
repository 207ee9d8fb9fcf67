// A deliberately bad OpenID provider for the SSO refusal tests
// (oauth2-mock-server 9). Started by tests/src/idp.rs: `node mock.mjs`; it
// listens on a free port of 127.0.0.1 and prints `ISSUER=...` once ready.
// It has no login page: /authorize redirects straight back with a code.
// The client_id picks the ID token's defect: `tamper-aud`, `tamper-nonce`,
// `tamper-iss`, `tamper-exp`, `tamper-sig` (any other client: a good token;
// `mfa`: a good token whose `amr` says a hardware key was used, RFC 8176).
// It checks no PKCE, codes or redirect URIs: never use it for the happy path.
import { OAuth2Server } from 'oauth2-mock-server';

const clientIdOf = (req) => {
  const h = req.headers.authorization ?? '';
  if (h.startsWith('Basic ')) return decodeURIComponent(Buffer.from(h.slice(6), 'base64').toString().split(':')[0]);
  return req.body?.client_id ?? '';
};
const tamperOf = (req) => clientIdOf(req).match(/^tamper-(\w+)$/)?.[1] ?? 'none';

const server = new OAuth2Server();
await server.issuer.keys.generate('RS256');
server.service.on('beforeTokenSigning', (token, req) => {
  if (token.payload.amr) return; // the access token; leave it alone
  const t = tamperOf(req);
  if (t === 'aud') token.payload.aud = 'someone-else';
  if (t === 'nonce') token.payload.nonce = 'not-your-nonce';
  if (t === 'iss') token.payload.iss = 'http://127.0.0.1:1/evil';
  if (t === 'exp') token.payload.exp = Math.floor(Date.now() / 1000) - 600;
  if (clientIdOf(req) === 'mfa') token.payload.amr = ['pwd', 'hwk'];
  token.payload.sub = 'mock-user';
  token.payload.groups = []; // groups in the ID token: no userinfo call
  token.payload.email = 'alice@example.test';
});
server.service.on('beforeResponse', (resp, req) => {
  if (tamperOf(req) === 'sig' && resp.body.id_token) {
    const [h, p, sig] = resp.body.id_token.split('.');
    resp.body.id_token = `${h}.${p}.${sig.slice(0, 10)}${sig[10] === 'A' ? 'B' : 'A'}${sig.slice(11)}`;
  }
});
await server.start(0, '127.0.0.1');
const { port } = server.address();
server.issuer.url = `http://127.0.0.1:${port}`;
console.log(`ISSUER=${server.issuer.url}`);
