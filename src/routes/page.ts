import { readdirSync } from 'node:fs';
import { extname, join } from 'node:path';
import { Router } from 'express';
import { GatewayError } from '../errors.js';
import { publicDir } from '../paths.js';

/** The types a page file may have; any other file under public/ is never served. */
const TYPES: Readonly<Record<string, string>> = {
  '.js': 'text/javascript',
  '.css': 'text/css',
};

/**
 * The page's files, named once at start: the ES modules and style sheets at
 * the top of public/. Listing them once means nothing else under public/
 * (or above it) is reachable, and a module added to public/ is served
 * without touching this file.
 */
function pageAssets(dir: string): ReadonlyMap<string, string> {
  const assets = new Map<string, string>();
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const type = TYPES[extname(entry.name)];
    if (entry.isFile() && type && !entry.name.startsWith('.')) assets.set(entry.name, type);
  }
  return assets;
}

/** `/`: the browser console (topics, groups, live tail, produce) from public/, with its assets under /ui/. */
export function pageRouter(dir: string = publicDir): Router {
  const router = Router();
  const assets = pageAssets(dir);
  router.get('/', (_req, res) => {
    res.type('text/html').setHeader('Cache-Control', 'no-cache');
    res.sendFile(join(dir, 'index.html'));
  });
  router.get('/ui/:asset', (req, res) => {
    const type = assets.get(req.params.asset);
    if (!type) throw new GatewayError('GW_ERR_NOT_FOUND', `No page asset ${req.params.asset}.`);
    res.type(type).setHeader('Cache-Control', 'no-cache');
    res.sendFile(join(dir, req.params.asset));
  });
  return router;
}
