import type { TopicDetail, TopicSummary } from '../../kafka/index.js';

/** Whether a topic has a JSON Schema, and which version; supplied by the schema registry. */
export type SchemaInfo = (topic: string) => { readonly version: number } | undefined;

/** Until a schema registry is wired in, no topic has a schema. */
export const noSchemas: SchemaInfo = () => undefined;

export function topicSummaryBody(t: TopicSummary) {
  return { name: t.name, internal: t.internal, partitionCount: t.partitions, replicationFactor: t.replicationFactor };
}

/** The v1 form of one topic, shared by the metadata and admin routes. */
export function topicDetailBody(t: TopicDetail, schemaInfo: SchemaInfo) {
  const schema = schemaInfo(t.name);
  return {
    ...topicSummaryBody(t),
    partitions: t.partitionDetails,
    configs: t.configs,
    schema: schema ? { version: schema.version } : null,
  };
}
