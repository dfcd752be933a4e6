import { readFileSync } from 'node:fs';
import type { Readiness } from '../kafka/index.js';
import { type Metrics, asyncapiPath, openapiPath } from '../common/index.js';
import type { Handlers } from './contract.js';
import { servedOpenApi, type ServedSecurity } from './served-contract.js';

export interface OperationsDeps {
  readonly readiness: () => Promise<Readiness>;
  readonly metrics: Metrics;
  /** True once shutdown has begun: a load balancer should stop sending traffic. */
  readonly shuttingDown: () => boolean;
  /** What the served openapi.yaml says each operation needs (served-contract.ts). */
  readonly security: ServedSecurity;
}

/** /healthz, /readyz, /metrics, /openapi.yaml and /asyncapi.yaml: what orchestrators and tooling ask of every instance. */
export function operationsHandlers({ readiness, metrics, shuttingDown, security }: OperationsDeps): Pick<Handlers, 'getHealth' | 'getReadiness' | 'getMetrics' | 'getOpenApi' | 'getAsyncApi'> {
  // Read once: the contract does not change while the process runs.
  const openapi = servedOpenApi(readFileSync(openapiPath, 'utf8'), security);
  const asyncapi = readFileSync(asyncapiPath, 'utf8');
  return {
    getHealth: ({ res }) => {
      res.json({ status: 'ok' });
    },
    getReadiness: async ({ res }) => {
      const state: Readiness = shuttingDown() ? { ready: false, reason: 'the gateway is shutting down' } : await readiness();
      res.status(state.ready ? 200 : 503);
      if (!state.ready) res.setHeader('Retry-After', '1');
      res.json(state.ready ? { status: 'ready' } : { status: 'unavailable', reason: state.reason });
    },
    getMetrics: async ({ res }) => {
      res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
    },
    getOpenApi: ({ res }) => {
      res.type('application/yaml').send(openapi);
    },
    getAsyncApi: ({ res }) => {
      res.type('application/yaml').send(asyncapi);
    },
  };
}
