import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project folder (where package.json is), whether running from src/ or from the build in dist/. */
function findProjectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('package.json not found above the gateway sources');
    dir = parent;
  }
  return dir;
}

export const projectRoot = findProjectRoot();
export const openapiPath = join(projectRoot, 'openapi.yaml');
export const asyncapiPath = join(projectRoot, 'docs', 'asyncapi.yaml');
export const publicDir = join(projectRoot, 'public');
