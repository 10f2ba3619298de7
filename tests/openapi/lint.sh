#!/bin/sh
# Lint docs/openapi.yaml with the Redocly CLI pinned in tools/openapi
# (package-lock.json).  Installs it with "npm ci" when it is not there yet;
# scripts/test does that up front so this test never races it.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
tool="$top/tools/openapi"
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "openapi lint: node and npm are required (Debian package nodejs)" >&2
    exit 1
fi
if [ ! -x "$tool/node_modules/.bin/redocly" ]; then
    (cd "$tool" && npm ci --no-audit --no-fund)
fi
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true
cd "$tool"
exec ./node_modules/.bin/redocly lint --config ./redocly.yaml \
    "$top/docs/openapi.yaml"
