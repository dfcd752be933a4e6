import { createRequire } from 'node:module';
import { join } from 'node:path';
import { GatewayError } from '../common/index.js';
import type { Handlers } from './contract.js';

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

/**
 * The page's setup script. Served as a file rather than inline so the page
 * works under a CSP without 'unsafe-inline'. With authentication off, the
 * Authorize button and the lock on every operation would suggest
 * credentials this gateway does not take: a plugin leaves them out.
 */
function initScript(authRequired: boolean): string {
  return `window.ui = SwaggerUIBundle({
  url: '/openapi.yaml',
  dom_id: '#swagger-ui',
  deepLinking: true,
  tryItOutEnabled: true,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
  plugins: ${authRequired ? '[]' : '[() => ({ wrapComponents: { authorizeBtn: () => () => null, authorizeOperationBtn: () => () => null } })]'},
  layout: 'StandaloneLayout',
});
`;
}

export interface DocsOptions {
  /** Whether requests need credentials (AUTH_MODE other than none). */
  readonly authRequired?: boolean;
}

/**
 * /docs (and /docs/, as people type it): an interactive API reference from
 * the swagger-ui-dist package, no CDN, "try it" against this gateway. Its
 * sections follow the order of the tags in openapi.yaml, produce first.
 */
export function docsHandlers({ authRequired = false }: DocsOptions = {}): Pick<Handlers, 'getDocs' | 'getDocsWithSlash' | 'getDocsAsset'> {
  const init = initScript(authRequired);
  const page: Handlers['getDocs'] = ({ res }) => {
    res.type('text/html').send(PAGE);
  };
  return {
    getDocs: page,
    getDocsWithSlash: page,
    getDocsAsset: ({ path: { asset }, res }) => {
      // The one file of the page that is the gateway's own rather than the package's.
      if (asset === 'init.js') {
        res.type('text/javascript').send(init);
        return;
      }
      const type = ASSETS[asset];
      if (!type) throw new GatewayError('GW_ERR_NOT_FOUND', `No documentation asset ${asset}.`);
      res.type(type).setHeader('Cache-Control', 'public, max-age=3600');
      res.sendFile(join(swaggerUiDir, asset));
    },
  };
}
