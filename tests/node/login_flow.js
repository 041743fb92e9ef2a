#!/usr/bin/env node
// A whole magic-link login with the official Descope Node SDK against a magiclink_auth site.
//
//   node login_flow.js <baseUrl> <projectId> <email> [URI]
//
// Writes one JSON object per line to stdout, one per step. After the first line ({"step": "signUpOrIn"})
// it reads the link's token as one line from stdin: the caller fetches it from wherever the site delivered
// the link (the test's outbox). Any failure is printed as {"step": ..., "error": ...} with exit status 1.

const readline = require('node:readline');

const sdkModule = require('@descope/node-sdk');
const DescopeClient = sdkModule.default || sdkModule;

const [baseUrl, projectId, email, uri] = process.argv.slice(2);

function emit(step, result) {
  process.stdout.write(`${JSON.stringify({ step, ...result })}\n`);
}

// An SdkResponse is {ok, code, data, error}; keep what a caller can assert on.
function outcome(response) {
  return { ok: response.ok, code: response.code, data: response.data, error: response.error };
}

async function readLine() {
  const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  const { value, done } = await lines[Symbol.asyncIterator]().next();
  lines.close();
  if (done) throw new Error('stdin closed before a token was given');
  return value.trim();
}

async function main() {
  if (!baseUrl || !projectId || !email) {
    throw new Error('usage: node login_flow.js <baseUrl> <projectId> <email> [URI]');
  }
  const sdk = DescopeClient({ projectId, baseUrl });
  let step = 'signUpOrIn';
  try {
    const started = await sdk.magicLink.signUpOrIn.email(email, uri);
    emit(step, outcome(started));
    if (!started.ok) return 1;

    step = 'verify';
    const token = await readLine();
    const verified = await sdk.magicLink.verify(token);
    emit(step, outcome(verified));
    if (!verified.ok) return 1;
    const { sessionJwt, refreshJwt } = verified.data;

    step = 'validateSession';
    const session = await sdk.validateSession(sessionJwt);
    emit(step, { ok: true, token: session.token });

    step = 'refreshSession';
    const refreshed = await sdk.refreshSession(refreshJwt);
    const rotated = refreshed.refreshJwt;
    emit(step, { ok: true, token: refreshed.token, rotated: Boolean(rotated) && rotated !== refreshJwt });

    step = 'logout';
    const current = rotated || refreshJwt;
    emit(step, outcome(await sdk.logout(current)));

    // After logout the refresh token must be refused by the server: the raw call shows the error code,
    // refreshSession shows how the SDK reports it.
    step = 'refreshAfterLogout';
    const refused = outcome(await sdk.refresh(current));
    let thrown = null;
    try {
      await sdk.refreshSession(current);
    } catch (err) {
      thrown = String(err.message || err);
    }
    emit(step, { ...refused, thrown });
    return 0;
  } catch (err) {
    emit(step, { ok: false, error: String((err && err.stack) || err) });
    return 1;
  }
}

main().then((status) => {
  process.exitCode = status;
});
