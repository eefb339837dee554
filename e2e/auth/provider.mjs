// A local identity provider for the SDK's authData tests, on 127.0.0.1:18931 (the address in
// auth-config.json, which scripts/test.sh gives the server): a JWKS of its own generated RSA key,
// ID tokens it signs on request (`mint`), and GitHub-like code-exchange and user endpoints.
import http from 'node:http';
import { generateKeyPairSync, sign as rsaSign, randomBytes } from 'node:crypto';

export const PORT = 18931;
const b64url = (buf) => Buffer.from(buf).toString('base64url');

export function startProvider() {
  const mine = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 });
  // A new key id each start: a server that cached an earlier run's keys fetches the new ones.
  const kid = `e2e-${randomBytes(4).toString('hex')}`;
  const jwk = { ...mine.publicKey.export({ format: 'jwk' }), kid, use: 'sig', alg: 'RS256' };
  const codes = new Set();
  const tokens = new Map();
  let jwksFetches = 0;

  /** A signed ID token (RS256); `forged` signs it with a key the JWKS does not have. */
  function mint(claims, { forged = false } = {}) {
    const now = Math.floor(Date.now() / 1000);
    const head = b64url(JSON.stringify({ alg: 'RS256', typ: 'JWT', kid }));
    const body = b64url(JSON.stringify({ iat: now, exp: now + 600, ...claims }));
    const key = forged ? stranger.privateKey : mine.privateKey;
    const sig = rsaSign('sha256', Buffer.from(`${head}.${body}`), key);
    return `${head}.${body}.${b64url(sig)}`;
  }

  function newCode() {
    const c = randomBytes(8).toString('hex');
    codes.add(c);
    return c;
  }

  const server = http.createServer((req, res) => {
    const send = (status, obj) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(obj));
    };
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      if (req.url === '/jwks') {
        jwksFetches += 1;
        return send(200, { keys: [jwk] });
      }
      if (req.url === '/github/token' && req.method === 'POST') {
        const body = JSON.parse(raw || '{}');
        if (!codes.delete(body.code) || body.client_secret !== 'e2e-gh-secret') {
          return send(200, { error: 'bad_verification_code', error_description: 'The code passed is incorrect or expired.' });
        }
        const t = `gho_${randomBytes(8).toString('hex')}`;
        tokens.set(t, 777001);
        return send(200, { access_token: t, token_type: 'bearer' });
      }
      if (req.url === '/github/user') {
        const t = (req.headers.authorization || '').replace(/^Bearer /, '');
        return tokens.has(t) ? send(200, { id: tokens.get(t), login: 'e2e-octocat' }) : send(401, { message: 'Bad credentials' });
      }
      send(404, { error: 'not found' });
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(PORT, '127.0.0.1', () =>
      resolve({ mint, newCode, jwksFetches: () => jwksFetches, close: () => new Promise((r) => server.close(r)) }),
    );
  });
}
