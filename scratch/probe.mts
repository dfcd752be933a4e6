import { startGateway } from '../src/gateway.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/common/logger.js';
const gw = await startGateway(loadConfig({ KAFKA_BROKERS: process.env.KAFKA_BROKERS!, PORT: '0', LOG_LEVEL: 'silent' }), createLogger('silent'));
const t = 'probe-' + Date.now();
const post = async (method: string, path: string, body?: unknown) => {
  const r = await fetch(gw.url + path, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  console.log(method, path, r.status, (await r.text()).slice(0, 400));
};
await post('POST', '/v1/topics', { name: t, partitions: 1 });
await post('PATCH', `/v1/topics/${t}/configs`, { 'foo.bar': '1' });
await post('POST', `/v1/topics/${t}/partitions`, { partitions: 100000 });
await post('POST', '/v1/topics', { name: t + 'x', partitions: 1, configs: { 'foo.bar': '1' } });
await post('POST', '/v1/topics', { name: t + 'y', partitions: 1, replicationFactor: 3 });
await post('PATCH', `/v1/topics/${t}/configs`, { 'retention.ms': 'abc' });
await gw.stop();
