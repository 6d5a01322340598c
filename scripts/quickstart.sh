#!/usr/bin/env bash
# Quickstart: install, build, run the main job on the embedded defaults, show the status.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
node dist/cli/main.js run
node dist/cli/main.js status
