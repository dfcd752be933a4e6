import { join } from 'node:path';

/** The Python with confluent-kafka's schema registry clients (test/python/requirements.txt), installed by the test command's preflight. */
export function registryPython(): string {
  return process.env.REGISTRY_PYTHON ?? join(process.cwd(), '.venv-registry/bin/python');
}
