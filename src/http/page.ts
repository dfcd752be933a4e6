import { readdirSync } from 'node:fs';
import { extname, join } from 'node:path';
import { GatewayError, publicDir } from '../common/index.js';
import type { Handlers } from './contract.js';

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
export function pageHandlers(dir: string = publicDir): Pick<Handlers, 'getPage' | 'getPageAsset'> {
  const assets = pageAssets(dir);
  return {
    getPage: ({ res }) => {
      res.type('text/html').setHeader('Cache-Control', 'no-cache');
      res.sendFile(join(dir, 'index.html'));
    },
    getPageAsset: ({ path: { asset }, res }) => {
      const type = assets.get(asset);
      if (!type) throw new GatewayError('GW_ERR_NOT_FOUND', `No page asset ${asset}.`);
      res.type(type).setHeader('Cache-Control', 'no-cache');
      res.sendFile(join(dir, asset));
    },
  };
}
