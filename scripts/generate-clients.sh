#!/usr/bin/env bash
# Generates the gateway's clients from openapi.yaml (OpenAPI 3.1, never
# downgraded to 3.0 for a generator's sake).
#
#   scripts/generate-clients.sh [install|typescript|python|go|java|all] [out]
#
#   install      Python generator into .venv-clients/ (pinned in
#                clients/python/requirements.txt), the Go modules of
#                clients/go (pinned in its go.mod/go.sum), and OpenAPI
#                Generator's CLI jar with the libraries its Java client needs
#                into clients/java/.cache/ (pinned in clients/java/pom.xml).
#                Idempotent.
#   typescript   openapi-typescript -> clients/typescript/schema.d.ts (or
#                [out]). Committed, because `tsc` type-checks the code that
#                uses it before any test runs; test/clients.test.ts
#                regenerates it into a temporary file and fails when the
#                committed one differs.
#   python       openapi-python-client -> clients/python/kafka_gateway_client/
#                (git-ignored, generated on every test run, so it cannot drift).
#   go           oapi-codegen -> clients/go/gateway/gateway.gen.go (git-ignored,
#                generated on every test run).
#   java         OpenAPI Generator (-g java --library native) ->
#                clients/java/generated/ (git-ignored), compiled with
#                clients/java/Example.java into clients/java/.cache/build.
#                Skipped when openapi.yaml, Example.java and the generator
#                are what the last build was made from (the stamp in the
#                build folder): a JVM generating and javac compiling the
#                whole client cost tens of seconds on a loaded machine.
#   all          (default) install, then all four.
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
#   unions are marked `x-go-type: interface{}`; openapi.yaml stays as is.
# - Java: OpenAPI Generator, the way most Java shops consume an OpenAPI
#   file, with the `native` library (java.net.http, Jackson). Its 3.1
#   support is marked beta; it reads ours as is. Its CLI jar comes from
#   Maven Central once; generation and javac run without Maven.
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
  # The copy of the pom is written last: it says everything that pom names is fetched.
  if ! cmp -s clients/java/pom.xml clients/java/.cache/pom.xml 2>/dev/null; then
    echo "Fetching OpenAPI Generator and the Java client's libraries (pinned in clients/java/pom.xml) from Maven Central into clients/java/.cache/ (once)..." >&2
    mvn -q -B -Dstyle.color=never -f clients/java/pom.xml package
    cp clients/java/pom.xml clients/java/.cache/pom.xml
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

java_client() {
  local dir="clients/java"
  local jar="$dir/.cache/generator/openapi-generator-cli.jar"
  local build="$dir/.cache/build"
  local stamp
  stamp="$(cat "$spec" "$dir/Example.java" "$dir/pom.xml" | sha256sum | cut -d' ' -f1)"
  if [[ -f "$build/.stamp" && "$(cat "$build/.stamp")" == "$stamp" ]]; then return; fi
  rm -rf "$dir/generated" "$build"
  local log
  log="$(java -jar "$jar" generate -g java --library native -i "$spec" -o "$dir/generated" \
    --additional-properties=invokerPackage=dev.kafkagateway.client,apiPackage=dev.kafkagateway.client.api,modelPackage=dev.kafkagateway.client.model,hideGenerationTimestamp=true \
    --parameter-name-mappings=headers=headerForm --global-property=apiTests=false,modelTests=false,apiDocs=false,modelDocs=false 2>&1)" || { echo "$log" >&2; exit 1; }
  mkdir -p "$build"
  find "$dir/generated/src/main/java" -name '*.java' >"$build/sources.txt"
  echo "$dir/Example.java" >>"$build/sources.txt"
  javac -nowarn -encoding UTF-8 -d "$build" -cp "$dir/.cache/lib/*" "@$build/sources.txt" 2>"$build/javac.log" || { cat "$build/javac.log" >&2; exit 1; }
  echo "$stamp" >"$build/.stamp"
}

case "${1:-all}" in
  install) install ;;
  typescript) typescript "${2:-}" ;;
  python) python "${2:-}" ;;
  go) go_client "${2:-}" ;;
  java) java_client ;;
  all) install; typescript; python; go_client; java_client ;;
  *) echo "usage: $0 [install|typescript|python|go|java|all] [out]" >&2; exit 2 ;;
esac
