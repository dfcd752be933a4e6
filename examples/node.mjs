// Produce records and read topic metadata from Node 20+ with fetch alone.
//
//   node examples/node.mjs [BASE_URL] [TOPIC]     # defaults: http://127.0.0.1:8080 demo
//
// With authentication on, set API_KEY (sent as a bearer token). For a typed
// client generated from the spec, see clients/typescript/example.ts.
const [baseUrl = 'http://127.0.0.1:8080', topic = 'demo'] = process.argv.slice(2);
const headers = { 'Content-Type': 'application/json', ...(process.env.API_KEY && { Authorization: `Bearer ${process.env.API_KEY}` }) };

async function call(method, path, body) {
  const res = await fetch(new URL(path, baseUrl), { method, headers, body: body && JSON.stringify(body) });
  const answer = res.status === 204 ? undefined : await res.json();
  // Errors are application/problem+json; `errors` lists each bad field with its JSON Pointer.
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${answer.title}: ${answer.detail} ${JSON.stringify(answer.errors ?? [])}`);
  return answer;
}

const produced = await call('POST', `/v1/topics/${encodeURIComponent(topic)}/records`, {
  records: [
    { key: 'user-42', value: { event: 'login' }, headers: { 'trace-id': 'abc123' } },
    { key: 'user-43', value: { event: 'logout' } },
  ],
});
// Offsets are strings: they are 64-bit integers.
for (const { partition, offset } of produced.offsets) console.log(`partition ${partition} offset ${offset}`);

const detail = await call('GET', `/v1/topics/${encodeURIComponent(topic)}`);
for (const p of detail.partitions) console.log(`partition ${p.partition}: leader ${p.leader}, offsets ${p.earliestOffset}..${p.latestOffset}`);
