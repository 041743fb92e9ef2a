#!/usr/bin/env node
// The official Descope Node SDK driven one call at a time, for tests that interleave SDK calls with reading
// the outbox or opening a browser.
//
//   node sdk_rpc.js <baseUrl> <projectId> [managementKey]
//
// Reads one JSON object per line from stdin, {"call": "enchantedLink.signIn", "args": [...]}, calls that
// method of the client and prints one JSON line: {ok, code, data, error} for an SdkResponse,
// {status, body} for a raw httpClient call, {value} for anything else, {thrown} when the call throws. Ends at end of input.

const readline = require('node:readline');

const sdkModule = require('@descope/node-sdk');
const DescopeClient = sdkModule.default || sdkModule;

const [baseUrl, projectId, managementKey] = process.argv.slice(2);

function method(sdk, path) {
  const names = path.split('.');
  let owner = sdk;
  for (const name of names.slice(0, -1)) owner = owner[name];
  const fn = owner[names[names.length - 1]];
  if (typeof fn !== 'function') throw new Error(`no SDK method ${path}`);
  return fn.bind(owner);
}

async function shape(result) {
  if (typeof Response !== 'undefined' && result instanceof Response) {
    // httpClient calls answer the fetch Response itself.
    return { status: result.status, body: await result.json() };
  }
  if (result && typeof result === 'object' && 'ok' in result && ('data' in result || 'error' in result)) {
    const { ok, code, data, error } = result;
    return { ok, code, data, error };
  }
  return { value: result === undefined ? null : result };
}

async function main() {
  const sdk = DescopeClient({ projectId, baseUrl, ...(managementKey ? { managementKey } : {}) });
  const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of lines) {
    if (!line.trim()) continue;
    const { call, args } = JSON.parse(line);
    let out;
    try {
      out = await shape(await method(sdk, call)(...(args || [])));
    } catch (err) {
      out = { thrown: String((err && err.message) || err) };
    }
    process.stdout.write(`${JSON.stringify(out)}\n`);
  }
}

main().catch((err) => {
  process.stdout.write(`${JSON.stringify({ thrown: String(err) })}\n`);
  process.exitCode = 1;
});
