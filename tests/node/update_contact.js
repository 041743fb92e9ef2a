#!/usr/bin/env node
// One update call with the official Descope Node SDK against a magiclink_auth site.
//
//   node update_contact.js <baseUrl> <projectId> <email|sms> <loginId> <newAddress> <refreshJwt> [merge]
//
// Calls magicLink.update.email or magicLink.update.phone.sms (which the SDK sends to /update/phone/sms),
// with no URI (the site's default), addToLoginIDs, and onMergeUseExisting when "merge" is given; prints {ok, code, data, error} as JSON.

const sdkModule = require('@descope/node-sdk');
const DescopeClient = sdkModule.default || sdkModule;

const [baseUrl, projectId, kind, loginId, address, refreshJwt, merge] = process.argv.slice(2);

async function main() {
  const sdk = DescopeClient({ projectId, baseUrl });
  const options = { addToLoginIDs: true, onMergeUseExisting: merge === 'merge' };
  const response = kind === 'email'
    ? await sdk.magicLink.update.email(loginId, address, undefined, refreshJwt, options)
    : await sdk.magicLink.update.phone.sms(loginId, address, undefined, refreshJwt, options);
  const { ok, code, data, error } = response;
  process.stdout.write(`${JSON.stringify({ ok, code, data, error })}\n`);
}

main().catch((err) => {
  process.stdout.write(`${JSON.stringify({ ok: false, thrown: String(err) })}\n`);
  process.exitCode = 1;
});
