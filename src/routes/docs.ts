import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Router } from 'express';
import { GatewayError } from '../errors.js';

// swagger-ui-dist is CommonJS and tells where its files are.
const swaggerUiDir = (createRequire(import.meta.url)('swagger-ui-dist') as { getAbsoluteFSPath(): string }).getAbsoluteFSPath();

/** The only files of the package the page needs: nothing else under node_modules is reachable. */
const ASSETS: Readonly<Record<string, string>> = {
  'swagger-ui.css': 'text/css',
  'index.css': 'text/css',
  'swagger-ui-bundle.js': 'text/javascript',
  'swagger-ui-standalone-preset.js': 'text/javascript',
  'favicon-32x32.png': 'image/png',
  'favicon-16x16.png': 'image/png',
};

const PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Kafka Gateway API</title>
  <link rel="stylesheet" href="/docs/swagger-ui.css">
  <link rel="stylesheet" href="/docs/index.css">
  <link rel="icon" type="image/png" href="/docs/favicon-32x32.png" sizes="32x32">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/swagger-ui-bundle.js"></script>
  <script src="/docs/swagger-ui-standalone-preset.js"></script>
  <script src="/docs/init.js"></script>
</body>
</html>
`;

// Served as a file rather than inline so the page works under a CSP without 'unsafe-inline'.
const INIT = `window.ui = SwaggerUIBundle({
  url: '/openapi.yaml',
  dom_id: '#swagger-ui',
  deepLinking: true,
  tryItOutEnabled: true,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
  layout: 'StandaloneLayout',
});
`;

/** /docs: an interactive API reference from the swagger-ui-dist package, no CDN, "try it" against this gateway. */
export function docsRouter(): Router {
  const router = Router();
  router.get('/docs', (_req, res) => {
    res.type('text/html').send(PAGE);
  });
  router.get('/docs/init.js', (_req, res) => {
    res.type('text/javascript').send(INIT);
  });
  router.get('/docs/:asset', (req, res) => {
    const type = ASSETS[req.params.asset];
    if (!type) throw new GatewayError('GW_ERR_NOT_FOUND', `No documentation asset ${req.params.asset}.`);
    res.type(type).setHeader('Cache-Control', 'public, max-age=3600');
    res.sendFile(join(swaggerUiDir, req.params.asset));
  });
  return router;
}
