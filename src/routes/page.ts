import { join } from 'node:path';
import { Router } from 'express';
import { GatewayError } from '../errors.js';
import { publicDir } from '../paths.js';

/** The page's files and their types: only these are served, so nothing else under public/ (or above it) is reachable. */
const ASSETS: Readonly<Record<string, string>> = {
  'app.js': 'text/javascript',
  'style.css': 'text/css',
};

/** `/`: the browser page (subscribe, watch, produce) from public/, with its assets under /ui/. */
export function pageRouter(): Router {
  const router = Router();
  router.get('/', (_req, res) => {
    res.type('text/html').setHeader('Cache-Control', 'no-cache');
    res.sendFile(join(publicDir, 'index.html'));
  });
  router.get('/ui/:asset', (req, res) => {
    const type = ASSETS[req.params.asset];
    if (!type) throw new GatewayError('GW_ERR_NOT_FOUND', `No page asset ${req.params.asset}.`);
    res.type(type).setHeader('Cache-Control', 'no-cache');
    res.sendFile(join(publicDir, req.params.asset));
  });
  return router;
}
