/**
 * openapi.yaml is the routing contract: requests are matched to their
 * operation and checked before any handler runs, and every express route
 * has an operation in the spec.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Express } from 'express';
import request from 'supertest';
import { Contract } from '../src/routes/contract.js';
import { openapiPath } from '../src/paths.js';
import { conforms } from './helpers/contract.js';
import { testGateway, type TestGateway } from './helpers/gateway.js';

let gw: TestGateway;
before(async () => {
  gw = await testGateway();
});
after(async () => {
  await gw.close();
});

/** Every route registered on the app (routers are mounted at the root, so route paths are full paths). */
function expressRoutes(app: Express): Array<{ method: string; path: string }> {
  interface Layer {
    route?: { path: string; methods: Record<string, boolean> };
    handle?: { stack?: Layer[] };
  }
  const walk = (stack: Layer[]): Array<{ method: string; path: string }> =>
    stack.flatMap((layer) =>
      layer.route
        ? Object.keys(layer.route.methods).map((method) => ({ method: method.toUpperCase(), path: layer.route!.path }))
        : walk(layer.handle?.stack ?? []),
    );
  return walk((app as unknown as { router: { stack: Layer[] } }).router.stack);
}

test('every express route has an operation in openapi.yaml', () => {
  const contract = Contract.load(openapiPath);
  const routes = expressRoutes(gw.app);
  assert.ok(routes.length > 5, 'the walk found the routes');
  for (const { method, path } of routes) {
    // /docs/init.js is the one fixed file of the reference page, a case of /docs/{asset}.
    const concrete = path.replace(/:(\w+)/g, 'x');
    assert.ok(contract.match(method, concrete), `${method} ${path} has no operation in openapi.yaml`);
  }
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
