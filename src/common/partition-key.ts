/**
 * The one spelling of a partition as a map key: `<topic>:<partition>` (a
 * topic id in place of the name where ids are the key), and its reading
 * back. A topic name holds no ':', so the last one separates.
 */
export function partitionKey(topic: string, partition: number): string {
  return `${topic}:${partition}`;
}

/** The topic and partition of a key made by partitionKey. */
export function splitPartitionKey(key: string): [topic: string, partition: number] {
  const at = key.lastIndexOf(':');
  return [key.slice(0, at), Number(key.slice(at + 1))];
}
