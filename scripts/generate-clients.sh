#!/usr/bin/env bash
# Generates the gateway's clients from openapi.yaml (OpenAPI 3.1, never
# downgraded to 3.0 for a generator's sake).
#
#   scripts/generate-clients.sh [install|typescript|python|go|all] [out]
#
#   install      Python generator into .venv-clients/ (pinned in
#                clients/python/requirements.txt) and the Go modules of
#                clients/go (pinned in its go.mod/go.sum). Idempotent.
#   typescript   openapi-typescript -> clients/typescript/schema.d.ts (or
#                [out]). Committed, because `tsc` type-checks the code that
#                uses it before any test runs; test/clients.test.ts
#                regenerates it into a temporary file and fails when the
#                committed one differs.
#   python       openapi-python-client -> clients/python/kafka_gateway_client/
#                (git-ignored, generated on every test run, so it cannot drift).
#   go           oapi-codegen -> clients/go/gateway/gateway.gen.go (git-ignored,
#                generated on every test run).
#   all          (default) install, then all three.
#
# Why these generators:
# - TypeScript: openapi-typescript reads 3.1 natively (type arrays, const)
#   and openapi-fetch gives a typed fetch client with no generated runtime.
# - Python: openapi-python-client parses 3.1 (type arrays become unions,
#   `null` becomes Optional). It knows few media types, so
#   clients/python/config.yaml maps ours onto ones it handles.
# - Go: oapi-codegen v2.8.2 loads 3.1 documents and generates working types
#   and a client for ours. Known limits: `const` is ignored (the field becomes
#   interface{}), and a `type:` array of two non-null types (e.g.
#   [string, number, boolean]) is refused; `[T, 'null']` is fine. So the Go
#   client is generated from a copy (scripts/openapi-for-go.ts) where such
#   unions are marked `x-go-type: interface{}`; openapi.yaml stays as is. ogen is
#   not served by the module proxy here, and the Java openapi-generator's
#   3.1 support is marked beta and costs a Maven build per run, so Go with
#   oapi-codegen is the third language.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
spec="$root/openapi.yaml"
# CLIENTS_VENV: another place for the Python toolchain (the tests use it to watch a first install).
venv="${CLIENTS_VENV:-$root/.venv-clients}"
requirements="$root/clients/python/requirements.txt"

install() {
  # Each step says what it fetches when it has to (a first run takes a minute or two), and is silent otherwise.
  if ! cmp -s "$requirements" "$venv/requirements.txt" 2>/dev/null; then
    echo "Installing the Python client generator (openapi-python-client, pinned in clients/python/requirements.txt) from PyPI into ${venv#"$root"/}/ (once)..." >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
    cp "$requirements" "$venv/requirements.txt"
  fi
  if ! (cd clients/go && GOPROXY=off GOFLAGS=-mod=mod go mod download >/dev/null 2>&1); then
    echo "Downloading oapi-codegen and the Go client's modules (pinned in clients/go/go.sum) through the Go module proxy (once)..." >&2
    (cd clients/go && go mod download)
  fi
}

typescript() {
  local out="${1:-clients/typescript/schema.d.ts}"
  # The redocly lint inside openapi-typescript repeats `npm run lint` at warning level; only errors matter here.
  npx --no-install openapi-typescript "$spec" --redocly clients/typescript/redocly.yaml --output "$out" >/dev/null 2>"$out.log" || { cat "$out.log" >&2; rm -f "$out.log"; exit 1; }
  rm -f "$out.log"
}

python() {
  local out="${1:-clients/python/kafka_gateway_client}"
  # ruff (pinned with the generator) formats the output; the generator looks for it on PATH.
  local log
  log="$(PATH="$venv/bin:$PATH" "$venv/bin/openapi-python-client" generate \
    --path "$spec" --config clients/python/config.yaml --meta none \
    --output-path "$out" --overwrite 2>&1)" || { echo "$log" >&2; exit 1; }
  # A warning means part of the spec was left out of the client: show it.
  if grep -q 'Warning' <<<"$log"; then echo "$log" >&2; fi
}

go_client() {
  local out="${1:-gateway/gateway.gen.go}"
  mkdir -p "$(dirname "clients/go/$out")"
  npx --no-install tsx scripts/openapi-for-go.ts "$spec" "clients/go/$(dirname "$out")/openapi.go.yaml"
  (cd clients/go && go tool oapi-codegen -config oapi-codegen.yaml -o "$out" "$(dirname "$out")/openapi.go.yaml")
}

case "${1:-all}" in
  install) install ;;
  typescript) typescript "${2:-}" ;;
  python) python "${2:-}" ;;
  go) go_client "${2:-}" ;;
  all) install; typescript; python; go_client ;;
  *) echo "usage: $0 [install|typescript|python|go|all] [out]" >&2; exit 2 ;;
esac
