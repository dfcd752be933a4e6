"""Schemathesis hooks for test/schemathesis.test.ts: an NDJSON body as the
gateway reads one, each generated item a line (a single value is one line)."""

import json

import schemathesis


@schemathesis.serializer("application/x-ndjson")
def ndjson(ctx, value):
    items = value if isinstance(value, list) else [value]
    return "".join(json.dumps(item) + "\n" for item in items).encode("utf-8")
