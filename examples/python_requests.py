"""Produce records and read topic metadata with plain `requests` (no generated client).

    pip install requests
    python3 examples/python_requests.py [BASE_URL] [TOPIC]   # defaults: http://127.0.0.1:8080 demo

With authentication on, set API_KEY (sent as a bearer token).
"""

import base64
import json
import os
import sys

import requests

BASE_URL = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8080"
TOPIC = sys.argv[2] if len(sys.argv) > 2 else "demo"

session = requests.Session()
if os.environ.get("API_KEY"):
    session.headers["Authorization"] = f"Bearer {os.environ['API_KEY']}"


def check(res: requests.Response) -> dict:
    """Errors are application/problem+json: show `title` and `detail` (and `errors` for bad fields)."""
    if not res.ok:
        problem = res.json()
        raise SystemExit(f"{res.status_code} {problem.get('title')}: {problem.get('detail')} {problem.get('errors', '')}")
    return res.json() if res.content else {}


# JSON values (the default). Offsets come back as strings: they are 64-bit.
produced = check(session.post(f"{BASE_URL}/v1/topics/{TOPIC}/records", json={
    "records": [
        {"key": "user-42", "value": {"event": "login"}, "headers": {"trace-id": "abc123"}},
        {"key": "user-43", "value": {"event": "logout"}},
    ],
}))
for entry in produced["offsets"]:
    print(f"partition {entry['partition']} offset {entry['offset']}")

# Binary values travel as base64.
check(session.post(f"{BASE_URL}/v1/topics/{TOPIC}/records", json={
    "valueFormat": "binary",
    "records": [{"key": "blob-1", "value": base64.b64encode(bytes([0, 1, 2, 255])).decode()}],
}))

# NDJSON streams a large batch without building one JSON document.
lines = (json.dumps({"key": f"n-{n}", "value": {"n": n}}) + "\n" for n in range(1000))
check(session.post(f"{BASE_URL}/v1/topics/{TOPIC}/records", data=(line.encode() for line in lines),
                   headers={"Content-Type": "application/x-ndjson"}))

topic = check(session.get(f"{BASE_URL}/v1/topics/{TOPIC}"))
for p in topic["partitions"]:
    print(f"partition {p['partition']}: leader {p['leader']}, offsets {p['earliestOffset']}..{p['latestOffset']}")
