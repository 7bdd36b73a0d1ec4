// A standards-compliant OpenID provider on loopback (oauth2-mock-server, as in api/tests/oidc):
// discovery, JWKS, authorize with PKCE and nonce, token (with refresh tokens), userinfo. Its ID
// tokens and userinfo answers describe the user the test last named with `as`.
import { randomUUID } from 'node:crypto';
import { OAuth2Server } from 'oauth2-mock-server';

export async function startOidcProvider() {
  const server = new OAuth2Server();
  await server.issuer.keys.generate('RS256');
  await server.start(0, '127.0.0.1');
  const issuer = `http://127.0.0.1:${server.address().port}`;
  server.issuer.url = issuer;

  let claims = {};
  server.service.on('beforeTokenSigning', (token) => {
    // Every token unique, as real providers' are (tokens signed in the same second would repeat).
    token.payload.jti = randomUUID();
    Object.assign(token.payload, claims);
  });
  server.service.on('beforeUserinfo', (userinfo) => Object.assign(userinfo.body, claims));

  return {
    issuer,
    discoveryUrl: `${issuer}/.well-known/openid-configuration`,
    /** From now on the provider signs in this user: `{sub, email, email_verified, name, …}`. */
    as(user) {
      claims = user;
    },
    close: () => server.stop(),
  };
}
