#!/usr/bin/env bash
# Runs every test: typecheck, build dist/macmux and its image, then unit and integration tests with node:test (as root).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ "$(id -u)" != 0 ]; then
  echo "test: integration tests create network namespaces and must run as root" >&2
  exit 1
fi
npx tsc --noEmit -p .
npm run build --silent
# The image of this run, which test/integration/image.test.ts loads into podman.
npm run image --silent
bash scripts/build-libcni-driver.sh
exec node --import tsx --test --test-concurrency=1 test/unit/*.test.ts test/integration/*.test.ts
