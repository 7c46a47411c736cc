// An OpenID provider built on panva's oidc-provider (OpenID Certified), playing Entra ID / the
// agents' FIM for enthub's OIDC connector tests: an upstream that shares no code with enthub.
//
// Run by test/peer.OIDCProvider with a JSON configuration on stdin:
//   {"port": 8123, "clients": [{client_id, client_secret, redirect_uris, post_logout_redirect_uris}],
//    "accounts": {"login": {claim: value, ...}}}
// It prints "READY <issuer>" once it listens on 127.0.0.1. Login is oidc-provider's own
// development login form (any account of "accounts", any password); consent is granted at once
// for the scopes asked. The ID token carries the scope's claims (conformIdTokenClaims: false), as
// Entra ID's carries oid, tid and groups; RP-initiated logout is enabled.
import { generateKeyPairSync } from 'node:crypto';
import Provider from 'oidc-provider';

let input = '';
for await (const chunk of process.stdin) input += chunk;
const conf = JSON.parse(input);

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'op-k1', use: 'sig', alg: 'RS256' };
const issuer = `http://127.0.0.1:${conf.port}`;

const provider = new Provider(issuer, {
  clients: conf.clients.map((c) => ({ grant_types: ['authorization_code'], response_types: ['code'], ...c })),
  jwks: { keys: [jwk] },
  conformIdTokenClaims: false,
  claims: {
    openid: ['sub'],
    profile: ['name', 'given_name', 'family_name', 'oid', 'tid', 'upn', 'groups', 'employeeId', 'rne', 'FrEduFonctAdm'],
    email: ['email'],
  },
  async findAccount(ctx, id) {
    const claims = conf.accounts[id];
    if (!claims) return undefined;
    return { accountId: id, async claims() { return { sub: id, ...claims }; } };
  },
  // Consent is not what is tested: grant the scopes and claims asked for.
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope(ctx.oidc.params.scope || 'openid');
    await grant.save();
    return grant;
  },
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true }, rpInitiatedLogout: { enabled: true } },
  renderError(ctx, out) {
    ctx.type = 'text';
    ctx.body = `error: ${out.error}: ${out.error_description || ''}\n`;
    console.error(ctx.body);
  },
});
provider.on('server_error', (ctx, err) => console.error('server_error', err));
provider.on('grant.error', (ctx, err) => console.error('grant.error', err.message, err.error_description || ''));

provider.listen(conf.port, '127.0.0.1', () => console.log(`READY ${issuer}`));
