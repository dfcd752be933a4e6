"""Registry clients nobody here wrote, against the gateway's schema registry.

    python registry_clients.py produce <registry url> <bootstrap> <prefix>
        Registers and produces one record per format with confluent-kafka's
        AvroSerializer, JSONSerializer and ProtobufSerializer to the topics
        <prefix>-avro, <prefix>-json and <prefix>-protobuf; then tries the
        evolution steps; prints what happened as JSON.
    python registry_clients.py consume <registry url> <bootstrap> <topic> <format> <count>
        Reads <count> records from the start of <topic> with the format's
        deserializer; prints their values as JSON.
"""
import json
import sys

from confluent_kafka import Consumer, Producer
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.schema_registry.json_schema import JSONDeserializer, JSONSerializer
from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer, ProtobufSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory

AVRO = json.dumps({
    "type": "record", "name": "Order", "namespace": "shop",
    "fields": [
        {"name": "id", "type": "long"},
        {"name": "item", "type": "string"},
        {"name": "note", "type": ["null", "string"], "default": None},
        {"name": "status", "type": {"type": "enum", "name": "Status", "symbols": ["NEW", "PAID"]}},
    ],
})
# A field with a default may be added (BACKWARD); a field without one may not.
AVRO_ALLOWED = json.dumps({**json.loads(AVRO), "fields": json.loads(AVRO)["fields"] + [{"name": "qty", "type": "int", "default": 1}]})
AVRO_REFUSED = json.dumps({**json.loads(AVRO), "fields": json.loads(AVRO)["fields"] + [{"name": "price", "type": "double"}]})
JSON_SCHEMA = json.dumps({
    "$schema": "http://json-schema.org/draft-07/schema#", "title": "Reading", "type": "object",
    "properties": {"sensor": {"type": "string"}, "celsius": {"type": "number"}},
    "required": ["sensor", "celsius"],
})


def order_type():
    """shop.Order built as a descriptor (no protoc here), as a generated _pb2 module would."""
    fdp = descriptor_pb2.FileDescriptorProto(name="shop/order.proto", package="shop", syntax="proto3")
    message = fdp.message_type.add(name="Order")
    F = descriptor_pb2.FieldDescriptorProto
    message.field.add(name="id", number=1, type=F.TYPE_INT64, label=F.LABEL_OPTIONAL, json_name="id")
    message.field.add(name="item_name", number=2, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL, json_name="itemName")
    message.field.add(name="tags", number=3, type=F.TYPE_STRING, label=F.LABEL_REPEATED, json_name="tags")
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("shop.Order"))


def produce(url, bootstrap, prefix):
    client = SchemaRegistryClient({"url": url})
    producer = Producer({"bootstrap.servers": bootstrap})
    report = {}
    avro = AvroSerializer(client, AVRO)
    value = {"id": 9007199254740991, "item": "book", "note": "gift", "status": "PAID"}
    producer.produce(f"{prefix}-avro", value=avro(value, SerializationContext(f"{prefix}-avro", MessageField.VALUE)))
    js = JSONSerializer(JSON_SCHEMA, client)
    producer.produce(f"{prefix}-json", value=js({"sensor": "s1", "celsius": 21.5}, SerializationContext(f"{prefix}-json", MessageField.VALUE)))
    Order = order_type()
    pb = ProtobufSerializer(Order, client)
    producer.produce(f"{prefix}-protobuf", value=pb(Order(id=-5, item_name="pen", tags=["a", "b"]), SerializationContext(f"{prefix}-protobuf", MessageField.VALUE)))
    producer.flush(30)
    subject = f"{prefix}-avro-value"
    report["subjects"] = sorted(s for s in client.get_subjects() if s.startswith(prefix))
    report["avroLatest"] = client.get_latest_version(subject).version
    report["allowedCompatible"] = client.test_compatibility(subject, Schema(AVRO_ALLOWED, "AVRO"))
    report["refusedCompatible"] = client.test_compatibility(subject, Schema(AVRO_REFUSED, "AVRO"))
    report["allowedId"] = client.register_schema(subject, Schema(AVRO_ALLOWED, "AVRO"))
    try:
        client.register_schema(subject, Schema(AVRO_REFUSED, "AVRO"))
        report["refused"] = None
    except SchemaRegistryError as error:
        report["refused"] = {"status": error.http_status_code, "code": error.error_code}
    report["versions"] = client.get_versions(subject)
    print(json.dumps(report))


def consume(url, bootstrap, topic, fmt, count):
    client = SchemaRegistryClient({"url": url})
    if fmt == "avro":
        deserialize = AvroDeserializer(client)
    elif fmt == "json":
        deserialize = JSONDeserializer(None, schema_registry_client=client)
    else:
        Order = order_type()
        inner = ProtobufDeserializer(Order, {}, client)
        deserialize = lambda data, ctx: json_format.MessageToDict(inner(data, ctx))
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"registry-test-{topic}", "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([topic])
    values = []
    try:
        while len(values) < count:
            message = consumer.poll(30)
            if message is None:
                raise SystemExit(f"only {len(values)} of {count} records within 30 s")
            if message.error():
                continue
            value = deserialize(message.value(), SerializationContext(topic, MessageField.VALUE))
            values.append(value)
    finally:
        consumer.close()
    print(json.dumps(exact(values)))


def exact(value):
    """Integers past 2^53 as strings of their digits, so the reader in JavaScript compares them exactly."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and abs(value) > 2**53:
        return str(value)
    if isinstance(value, list):
        return [exact(v) for v in value]
    if isinstance(value, dict):
        return {k: exact(v) for k, v in value.items()}
    return value


if __name__ == "__main__":
    if sys.argv[1] == "produce":
        produce(*sys.argv[2:5])
    else:
        consume(*sys.argv[2:6], int(sys.argv[6]))
