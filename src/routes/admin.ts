import express, { Router, type Request, type RequestHandler } from 'express';
import { GatewayError, type FieldError } from '../errors.js';
import type { NewTopic, TopicAdmin } from '../kafka/index.js';
import { requireContentType } from './problems.js';
import { noSchemas, topicDetailBody, type SchemaInfo } from './topic-shapes.js';

export interface AdminRoutesDeps {
  readonly topicAdmin: TopicAdmin;
  readonly bodyLimitBytes: number;
  /** Decides who may administer topics; everyone while authentication is off. */
  readonly schemaInfo?: SchemaInfo;
}

const MAX_INT32 = 2 ** 31 - 1;
const MAX_INT16 = 2 ** 15 - 1;

function invalid(errors: FieldError[]): GatewayError {
  return new GatewayError('GW_ERR_VALIDATION', `The request body is not valid: ${errors.map((e) => `${e.pointer} ${e.message}`).join('; ')}.`, { errors });
}

/** The path's topic; typed loosely by express when a route spreads its middleware. */
function topicParam(req: Request): string {
  return String(req.params.topic);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function checkCount(value: unknown, pointer: string, max: number, errors: FieldError[]): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) {
    errors.push({ pointer, message: `must be a whole number from 1 to ${max}` });
    return undefined;
  }
  return value;
}

/** Config values as Kafka takes them: strings; numbers and booleans are written as their text for convenience. */
function checkConfigs(value: unknown, pointer: string, errors: FieldError[], allowNull: boolean): Record<string, string | null> {
  const configs: Record<string, string | null> = {};
  if (value === undefined) return configs;
  if (!isObject(value)) {
    errors.push({ pointer, message: 'must be an object of config names to values' });
    return configs;
  }
  for (const [name, v] of Object.entries(value)) {
    const at = `${pointer}/${name.replaceAll('~', '~0').replaceAll('/', '~1')}`;
    if (typeof v === 'string') configs[name] = v;
    else if (typeof v === 'number' || typeof v === 'boolean') configs[name] = String(v);
    else if (v === null && allowNull) configs[name] = null;
    else errors.push({ pointer: at, message: allowNull ? 'must be a string, number, boolean or null (to remove it)' : 'must be a string, number or boolean' });
  }
  return configs;
}

function parseNewTopic(body: unknown): NewTopic {
  if (!isObject(body)) throw invalid([{ pointer: '', message: 'must be a JSON object' }]);
  const errors: FieldError[] = [];
  const { name, partitions, replicationFactor, configs, ...rest } = body;
  if (typeof name !== 'string' || name === '') errors.push({ pointer: '/name', message: 'is required: a topic name' });
  const p = checkCount(partitions, '/partitions', MAX_INT32, errors);
  const rf = checkCount(replicationFactor, '/replicationFactor', MAX_INT16, errors);
  const c = checkConfigs(configs, '/configs', errors, false) as Record<string, string>;
  for (const key of Object.keys(rest)) errors.push({ pointer: `/${key}`, message: 'is not a known member' });
  if (errors.length > 0) throw invalid(errors);
  return { name: name as string, partitions: p, replicationFactor: rf, configs: c };
}

/**
 * Topic administration. Each operation is marked `x-permission: admin` in
 * openapi.yaml, and the authorization step every request passes before
 * routing (src/routes/auth.ts) enforces it, so no route here checks.
 */
export function adminRouter({ topicAdmin, bodyLimitBytes, schemaInfo = noSchemas }: AdminRoutesDeps): Router {
  const router = Router();
  const json = (...types: string[]): RequestHandler[] => [requireContentType(...types), express.json({ limit: bodyLimitBytes, type: types })];

  router.post('/v1/topics', ...json('application/json'), async (req, res) => {
    const topic = await topicAdmin.createTopic(parseNewTopic(req.body));
    res.status(201).location(`/v1/topics/${encodeURIComponent(topic.name)}`).json(topicDetailBody(topic, schemaInfo));
  });

  router.delete('/v1/topics/:topic', async (req, res) => {
    await topicAdmin.deleteTopic(topicParam(req));
    res.status(204).end();
  });

  router.post('/v1/topics/:topic/partitions', ...json('application/json'), async (req, res) => {
    const body: unknown = req.body;
    const errors: FieldError[] = [];
    const count = isObject(body) ? checkCount(body.partitions, '/partitions', MAX_INT32, errors) : undefined;
    if (count === undefined) throw invalid(errors.length > 0 ? errors : [{ pointer: '/partitions', message: 'is required: the new partition count' }]);
    const topic = await topicAdmin.addPartitions(topicParam(req), count);
    res.json(topicDetailBody(topic, schemaInfo));
  });

  // A JSON Merge Patch (RFC 7396) of the topic's config overrides: a value sets, null removes.
  router.patch('/v1/topics/:topic/configs', ...json('application/merge-patch+json', 'application/json'), async (req, res) => {
    const errors: FieldError[] = [];
    const changes = checkConfigs(req.body, '', errors, true);
    if (errors.length > 0) throw invalid(errors);
    if (Object.keys(changes).length === 0) throw invalid([{ pointer: '', message: 'must name at least one config' }]);
    const topic = await topicAdmin.alterConfigs(topicParam(req), changes);
    res.json(topicDetailBody(topic, schemaInfo));
  });

  return router;
}
