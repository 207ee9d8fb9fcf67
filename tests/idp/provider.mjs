// A real OpenID provider for the SSO tests (oidc-provider 9, certified).
// Started by tests/src/idp.rs: `node provider.mjs`; it listens on a free port of
// 127.0.0.1 and prints `ISSUER=http://127.0.0.1:PORT` once ready.
//
// - Clients: `vault-test` / `vault-test-secret` (client_secret_basic) and
//   `vault-post` / `vault-post-secret` (client_secret_post). Both are
//   "native" clients with loopback redirect URIs, so that any port of
//   http://127.0.0.1 matches (RFC 8252 §7.3): the vault under test chooses
//   its port at start. PKCE S256 is required.
// - Users: alice / alice-pw (groups: payments-readers), bob / bob-pw (no
//   groups); both emails end in @example.test.
// - A test changes a user's groups "at the IdP" with
//   POST /__test/groups?user=alice&groups=a,b (empty: none).
import http from 'node:http';
import Provider from 'oidc-provider';

const CALLBACKS = (process.env.CALLBACK_NAMES || 'corp')
  .split(',')
  .map((n) => `http://127.0.0.1/v1/auth/oidc/${n}/callback`);

const USERS = {
  alice: { password: 'alice-pw', groups: ['payments-readers'],
    claims: { email: 'alice@example.test', email_verified: true, name: 'Alice Tester', preferred_username: 'alice' } },
  bob: { password: 'bob-pw', groups: [],
    claims: { email: 'bob@example.test', email_verified: true, name: 'Bob Tester', preferred_username: 'bob' } },
};

const server = http.createServer();
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const client = (id, secret, method) => ({
    client_id: id,
    client_secret: secret,
    application_type: 'native',
    redirect_uris: CALLBACKS,
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: method,
  });
  const provider = new Provider(issuer, {
    clients: [
      client('vault-test', 'vault-test-secret', 'client_secret_basic'),
      client('vault-post', 'vault-post-secret', 'client_secret_post'),
    ],
    pkce: { required: () => true },
    scopes: ['openid', 'email', 'profile', 'groups'],
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'preferred_username'],
      groups: ['groups'],
    },
    async findAccount(ctx, id) {
      const u = USERS[id];
      if (!u) return undefined;
      return { accountId: id, async claims() { return { sub: id, ...u.claims, groups: u.groups }; } };
    },
    // Scope claims (email, groups) go into the ID token, not only userinfo.
    conformIdTokenClaims: false,
    cookies: { keys: ['test-only-cookie-key'] },
    features: { devInteractions: { enabled: true } },
    ttl: { Session: 3600, Interaction: 600, Grant: 3600, AuthorizationCode: 60, IdToken: 3600, AccessToken: 3600 },
  });
  provider.on('server_error', (ctx, err) => console.error('server_error', err));

  // The dev login form accepts any password: check it here.
  provider.use(async (ctx, next) => {
    if (ctx.method === 'POST' && /^\/interaction\/[^/]+$/.test(ctx.path)) {
      const chunks = [];
      for await (const c of ctx.req) chunks.push(c);
      const raw = Buffer.concat(chunks).toString();
      const form = new URLSearchParams(raw);
      if (form.get('prompt') === 'login') {
        const u = USERS[form.get('login')];
        if (!u || u.password !== form.get('password')) {
          ctx.status = 401; ctx.body = 'bad credentials'; return;
        }
      }
      ctx.request.body = raw;
    }
    await next();
  });

  const handle = provider.callback();
  server.on('request', (req, res) => {
    const url = new URL(req.url, issuer);
    if (req.method === 'POST' && url.pathname === '/__test/groups') {
      const u = USERS[url.searchParams.get('user')];
      if (!u) { res.writeHead(404); res.end(); return; }
      const g = url.searchParams.get('groups') || '';
      u.groups = g ? g.split(',') : [];
      res.writeHead(204); res.end();
      return;
    }
    handle(req, res);
  });
  console.log(`ISSUER=${issuer}`);
});
