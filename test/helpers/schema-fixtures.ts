/**
 * The schemas and records the schema format tests share, against the
 * gateway's own registry (test/schema-formats.test.ts) and against Apicurio
 * Registry (test/schema-apicurio.test.ts): shop.Order in Avro and Protobuf
 * (the message test/python/registry_clients.py builds as a descriptor) and
 * a JSON Schema of sensor readings, with records that fit them as the
 * gateway takes and answers them, and as confluent-kafka's deserializers
 * read them back.
 */

/** shop.Order as Avro schema text; `fields` come after its own (an evolution step). */
export function orderAvro(fields: readonly object[] = []): string {
  return JSON.stringify({
    type: 'record',
    name: 'Order',
    namespace: 'shop',
    fields: [
      { name: 'id', type: 'long' },
      { name: 'item', type: 'string' },
      { name: 'note', type: ['null', 'string'], default: null },
      { name: 'status', type: { type: 'enum', name: 'Status', symbols: ['NEW', 'PAID'] } },
      ...fields,
    ],
  });
}

/** An Avro shop.Order whose note names its union branch, as Avro's JSON encoding does. */
export const giftOrder = { id: 1, item: 'book', note: { string: 'gift' }, status: 'NEW' };
/** giftOrder as confluent-kafka's Avro deserializer reads it: the union's value alone. */
export const giftOrderRead = { id: 1, item: 'book', note: 'gift', status: 'NEW' };
/** An Avro shop.Order with the largest long as its id, which JSON carries exactly only as a string. */
export const largestOrder = { id: '9223372036854775807', item: 'pen', note: null, status: 'PAID' };

/** shop.Order as Protobuf schema text. */
export const ORDER_PROTO = 'syntax = "proto3";\npackage shop;\nmessage Order {\n  int64 id = 1;\n  string item_name = 2;\n  repeated string tags = 3;\n}\n';
/** A Protobuf shop.Order as JSON: an int64 as a string, field names in lowerCamelCase. */
export const lampOrder = { id: '-7', itemName: 'lamp', tags: ['x'] };

/** A JSON Schema of sensor readings, as schema text. */
export const SENSOR_JSON_SCHEMA = JSON.stringify({ type: 'object', properties: { sensor: { type: 'string' }, celsius: { type: 'number' } }, required: ['sensor'] });
/** A reading that fits SENSOR_JSON_SCHEMA. */
export const reading = { sensor: 's9', celsius: -3.5 };
