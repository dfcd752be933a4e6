#!/usr/bin/env bash
# Produce in every format, read the records back (a page of a partition, an
# event stream that resumes where it stopped) and read metadata, with plain curl.
#
#   examples/curl.sh [BASE_URL] [TOPIC]      # defaults: http://127.0.0.1:8080 demo
#
# With authentication on, export API_KEY (sent as a bearer token).
set -euo pipefail
BASE_URL="${1:-http://127.0.0.1:8080}"
TOPIC="${2:-demo}"
auth=()
[ -n "${API_KEY:-}" ] && auth=(-H "Authorization: Bearer $API_KEY")
call() { curl -sS --fail-with-body "${auth[@]}" "$@"; echo; }

# Create the topic (needs the admin permission; 409 if it exists, which is fine here).
curl -sS "${auth[@]}" -X POST "$BASE_URL/v1/topics" -H 'Content-Type: application/json' \
  -d "{\"name\":\"$TOPIC\",\"partitions\":3}" -o /dev/null -w 'create topic: %{http_code}\n'

# JSON keys and values (the default); the answer has partition and offset per record, in order.
call -X POST "$BASE_URL/v1/topics/$TOPIC/records" -H 'Content-Type: application/json' \
  -d '{"records":[{"key":"user-42","value":{"event":"login"},"headers":{"trace-id":"abc123"}},
                  {"key":"user-43","value":{"event":"logout"},"partition":0}]}'

# UTF-8 text values.
call -X POST "$BASE_URL/v1/topics/$TOPIC/records?valueFormat=text" -H 'Content-Type: application/json' \
  -d '{"records":[{"key":"line-1","value":"plain text, stored as is"}]}'

# Binary values, base64 in the request (here: the bytes 0x00 0x01 0x02 0xff).
call -X POST "$BASE_URL/v1/topics/$TOPIC/records" -H 'Content-Type: application/json' \
  -d "{\"valueFormat\":\"binary\",\"records\":[{\"key\":\"blob-1\",\"value\":\"$(printf '\x00\x01\x02\xff' | base64)\"}]}"

# NDJSON: one record per line, streamed, for large batches.
printf '%s\n' '{"key":"n-1","value":{"n":1}}' '{"key":"n-2","value":{"n":2}}' '{"key":"n-3","value":{"n":3}}' |
  call -X POST "$BASE_URL/v1/topics/$TOPIC/records" -H 'Content-Type: application/x-ndjson' --data-binary @-

# Metadata.
call "$BASE_URL/v1/cluster"
call "$BASE_URL/v1/topics?prefix=$TOPIC"
call "$BASE_URL/v1/topics/$TOPIC"      # partitions with earliest and latest offsets

# A page of partition 0 from its first record; ask again from nextOffset for the next one.
call "$BASE_URL/v1/topics/$TOPIC/partitions/0/records?offset=earliest&limit=5"

# Server-Sent Events: every record as an event whose id is a resume token. curl -N streams until
# stopped; here --max-time stops it after 3 s (curl's exit code 28, expected).
stream() { curl -sSN --max-time "$1" "${auth[@]}" "${@:2}" || [ $? -eq 28 ]; }
events="$(stream 3 "$BASE_URL/v1/topics/$TOPIC/events?from=earliest")"
printf '%s\n' "$events" | sed -n '1,8p'
# Resume after the last event seen (any gateway instance takes the id): only records produced since come.
last_id="$(printf '%s\n' "$events" | sed -n 's/^id: //p' | tail -n 1)"
call -X POST "$BASE_URL/v1/topics/$TOPIC/records" -H 'Content-Type: application/json' \
  -d '{"records":[{"key":"user-42","value":{"event":"after the stream stopped"}}]}'
stream 2 -H "Last-Event-ID: $last_id" "$BASE_URL/v1/topics/$TOPIC/events"
# Only the records whose key is user-42, filtered by the gateway (key= repeats for more keys).
stream 2 "$BASE_URL/v1/topics/$TOPIC/events?from=earliest&key=user-42"
