#!/usr/bin/env bash
# Runs the demo from a fresh clone as root: installs what is missing, builds dist/macmux, shows a pod getting its interfaces.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
  echo "demo: run as root (it creates a network namespace and links)" >&2
  exit 1
fi
bash scripts/setup.sh
npm run build --silent >/dev/null
exec node --import tsx scripts/demo.ts
