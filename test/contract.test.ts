/**
 * openapi.yaml is the routing contract: requests are matched to their
 * operation and checked before any handler runs, and every operation has
 * exactly one handler, registered by its operationId.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import express from 'express';
import request from 'supertest';
import { Contract, dispatch, matchOperation } from '../src/http/contract.js';
import { problemHandler } from '../src/http/problems.js';
import { openapiPath } from '../src/common/paths.js';
import { conforms } from './helpers/contract.js';
import { quietLogger } from './helpers/env.js';
import { appFor } from './helpers/scoped.js';
import type { TestGateway } from './helpers/gateway.js';

let gw: TestGateway;
before(async (t) => {
  gw = await appFor(t);
});

test('an operation of openapi.yaml without a handler stops the app from being built', () => {
  const contract = Contract.load(openapiPath);
  assert.throws(() => dispatch(contract, {}), (error: Error) => {
    for (const op of contract.operations) assert.match(error.message, new RegExp(`\\b${op.operationId}\\b`));
    return true;
  });
});

test('handlers get query values as the contract reads them: coerced to their types, defaults filled in', async () => {
  const contract = new Contract({
    openapi: '3.1.0',
    paths: {
      '/items/{n}': {
        get: {
          operationId: 'items',
          parameters: [
            { name: 'n', in: 'path', required: true, schema: { type: 'integer', minimum: 1 } },
            { name: 'full', in: 'query', schema: { type: 'boolean', default: false } },
            { name: 'limit', in: 'query', schema: { type: 'integer', default: 10 } },
          ],
        },
      },
    },
  });
  const app = express();
  app.use(matchOperation(contract));
  app.use(dispatch(contract, { items: ({ path, query, res }: { path: unknown; query: unknown; res: express.Response }) => res.json({ path, query }) }));
  app.use(problemHandler(quietLogger()));
  const res = await request(app).get('/items/3?full=true').expect(200);
  assert.deepEqual(res.body, { path: { n: 3 }, query: { full: true, limit: 10 } });
  const bad = await request(app).get('/items/3?limit=ten&limit=11').expect(400);
  assert.equal(bad.body.errors[0].pointer, '/query/limit');
});

test('a known path with another method is 405 with Allow', async () => {
  const res = await request(gw.app).post('/healthz').expect(405);
  assert.equal(res.headers.allow, 'GET');
  assert.equal(res.body.code, 'GW_ERR_METHOD_NOT_ALLOWED');
});

test('a path parameter that breaks the spec is 400 naming it, before the handler runs', async () => {
  const res = await request(gw.app).get('/docs/..%2F..%2Fpackage.json').expect(400);
  assert.equal(res.body.code, 'GW_ERR_VALIDATION');
  assert.equal(res.body.errors[0].pointer, '/path/asset');
  assert.match(res.body.detail, /asset/);
});

test('/docs serves the interactive reference from the package, pointed at /openapi.yaml', async () => {
  const page = conforms(await request(gw.app).get('/docs').expect(200));
  assert.match(page.text, /swagger-ui-bundle\.js/);
  assert.doesNotMatch(page.text, /https?:\/\/(?!www\.w3)/, 'no CDN');
  const bundle = conforms(await request(gw.app).get('/docs/swagger-ui-bundle.js').expect(200));
  assert.ok(bundle.text.length > 100_000);
  const init = conforms(await request(gw.app).get('/docs/init.js').expect(200));
  assert.match(init.text, /url: '\/openapi\.yaml'/);
  conforms(await request(gw.app).get('/docs/package.json').expect(404));
});
