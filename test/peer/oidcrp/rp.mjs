// An independent OpenID Connect relying party for enthub's end-to-end tests: panva's openid-client
// (OpenID Certified), driven step by step by the Go test, which plays the browser. Every step reads
// its input as JSON on stdin and prints one JSON line; a library error is printed, not thrown, so
// that the Go test shows what the certified client objected to.
//
//   node rp.mjs web-start     {issuer, client_id, client_secret, redirect_uri, scope}
//   node rp.mjs web-finish    {issuer, client_id, client_secret, callback, verifier, state, nonce, post_logout_redirect_uri, logout_state}
//   node rp.mjs userinfo      {issuer, client_id, client_secret, access_token, sub}
//   node rp.mjs native        {issuer, client_id, scope, path}   (prints {url}, then the result once the browser came back)
import * as client from 'openid-client';
import http from 'node:http';

const readStdin = async () => {
	let s = '';
	for await (const chunk of process.stdin) s += chunk;
	return JSON.parse(s || '{}');
};
const out = (v) => process.stdout.write(JSON.stringify(v) + '\n');
const describe = (e) => ({
	name: e?.name, message: e?.message, code: e?.code, error: e?.error,
	// WWWAuthenticateChallengeError: what the server's WWW-Authenticate said.
	challenges: e?.cause && Array.isArray(e.cause) ? e.cause : undefined,
	status: e?.status ?? e?.response?.status,
});

// discover: the issuer's discovery document, checked by the library (issuer equality among others).
async function discover(input, auth) {
	const config = await client.discovery(new URL(input.issuer), input.client_id, undefined, auth, {
		execute: [client.allowInsecureRequests], // the test issuer is http on 127.0.0.1
	});
	// Verify ID token signatures against the JWKS too (OIDC Core 3.1.3.7 lets a client skip it over TLS).
	client.enableNonRepudiationChecks(config);
	return config;
}

const authOf = (input) => (input.client_secret ? client.ClientSecretBasic(input.client_secret) : client.None());

async function webStart(input) {
	const config = await discover(input, authOf(input));
	const verifier = client.randomPKCECodeVerifier();
	const state = client.randomState();
	const nonce = client.randomNonce();
	const url = client.buildAuthorizationUrl(config, {
		redirect_uri: input.redirect_uri, scope: input.scope, state, nonce,
		code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
	});
	const md = config.serverMetadata();
	out({ url: url.href, verifier, state, nonce, metadata: md });
}

async function webFinish(input) {
	const config = await discover(input, authOf(input));
	const res = {};
	const tokens = await client.authorizationCodeGrant(config, new URL(input.callback), {
		pkceCodeVerifier: input.verifier, expectedState: input.state, expectedNonce: input.nonce, idTokenExpected: true,
	});
	res.claims = tokens.claims();
	res.access_token = tokens.access_token;
	res.id_token = tokens.id_token;
	res.userinfo = await client.fetchUserInfo(config, tokens.access_token, res.claims.sub);
	// Refresh rotation: a new refresh token each time; the old one, replayed, is refused.
	const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
	res.refreshed = !!refreshed.access_token;
	res.rotated = !!refreshed.refresh_token && refreshed.refresh_token !== tokens.refresh_token;
	try {
		await client.refreshTokenGrant(config, tokens.refresh_token);
		res.replay = { accepted: true };
	} catch (e) {
		res.replay = describe(e);
	}
	res.end_session_url = client.buildEndSessionUrl(config, {
		id_token_hint: tokens.id_token, post_logout_redirect_uri: input.post_logout_redirect_uri, state: input.logout_state,
	}).href;
	out(res);
}

async function userinfo(input) {
	const config = await discover(input, authOf(input));
	try {
		out({ userinfo: await client.fetchUserInfo(config, input.access_token, input.sub) });
	} catch (e) {
		out({ error: describe(e) });
	}
}

// native: a desktop app (RFC 8252): listens on a loopback port the system picks, sends the user to
// the authorization endpoint, takes the code at http://127.0.0.1:PORT/path, exchanges it with PKCE.
async function native(input) {
	const config = await discover(input, client.None());
	const verifier = client.randomPKCECodeVerifier();
	const state = client.randomState();
	const nonce = client.randomNonce();
	const server = http.createServer();
	await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
	const redirect = `http://127.0.0.1:${server.address().port}${input.path}`;
	const url = client.buildAuthorizationUrl(config, {
		redirect_uri: redirect, scope: input.scope, state, nonce,
		code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
	});
	out({ url: url.href, redirect_uri: redirect });
	const callback = await new Promise((ok, fail) => {
		const timer = setTimeout(() => fail(new Error('no callback within 60 s')), 60000);
		server.on('request', (req, resp) => {
			resp.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
			resp.end('Connexion réussie : vous pouvez fermer cette fenêtre.');
			clearTimeout(timer);
			ok(new URL(req.url, redirect));
		});
	});
	server.close();
	const tokens = await client.authorizationCodeGrant(config, callback, {
		pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true,
	});
	const claims = tokens.claims();
	out({ claims, userinfo: await client.fetchUserInfo(config, tokens.access_token, claims.sub), refresh: !!tokens.refresh_token });
}

const steps = { 'web-start': webStart, 'web-finish': webFinish, userinfo, native };
const step = steps[process.argv[2]];
if (!step) {
	console.error(`usage: node rp.mjs ${Object.keys(steps).join('|')} < input.json`);
	process.exit(2);
}
try {
	await step(await readStdin());
} catch (e) {
	out({ failed: describe(e), stack: e?.stack });
	process.exit(1);
}
