// A standards-compliant OpenID provider on loopback for orgauth's social sign-in tests
// (oauth2-mock-server: discovery, JWKS, authorize with PKCE and nonce, token, userinfo).
//
//   node server.mjs [port]     prints "listening <issuer>" once it serves
//
// The test steers what the provider says through JSON lines on stdin, each answered "ok":
//   {"claims": {...}}        claims added to every ID token and to the userinfo answer
//   {"tamperNonce": true}    ID tokens carry another nonce than the one asked for
//   {"error": "access_denied"}   the authorize endpoint answers with this error instead of a code
//   {"failRefresh": true}    refresh_token grants are refused
import { randomUUID } from 'node:crypto';
import readline from 'node:readline';
import { OAuth2Server } from 'oauth2-mock-server';

const port = Number(process.argv[2] ?? 0);
const server = new OAuth2Server();
await server.issuer.keys.generate('RS256');
await server.start(port, '127.0.0.1');
const issuer = `http://127.0.0.1:${server.address().port}`;
server.issuer.url = issuer;

let control = { claims: {}, tamperNonce: false, error: null, failRefresh: false };

server.service.on('beforeTokenSigning', (token) => {
  // Every token unique, as real providers' are (tokens signed in the same second would repeat).
  token.payload.jti = randomUUID();
  Object.assign(token.payload, control.claims);
  if (control.tamperNonce && 'nonce' in token.payload) {
    token.payload.nonce = 'not-the-nonce-orgauth-sent';
  }
});
server.service.on('beforeAuthorizeRedirect', (authorize) => {
  if (control.error) {
    authorize.url.searchParams.delete('code');
    authorize.url.searchParams.set('error', control.error);
  }
});
server.service.on('beforeUserinfo', (userinfo) => {
  Object.assign(userinfo.body, control.claims);
});
server.service.on('beforeResponse', (response, req) => {
  if (control.failRefresh && req.body?.grant_type === 'refresh_token') {
    response.statusCode = 400;
    response.body = { error: 'invalid_grant' };
  }
});

const lines = readline.createInterface({ input: process.stdin });
lines.on('line', (line) => {
  if (line.trim()) {
    control = { ...control, ...JSON.parse(line) };
  }
  process.stdout.write('ok\n');
});
// The test ends: so does the provider.
lines.on('close', async () => {
  await server.stop();
  process.exit(0);
});

process.stdout.write(`listening ${issuer}\n`);
