#!/usr/bin/env bash
# Installs everything, then runs the test suites — the same command CI runs after lint and type-check.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
npm test
npm run test:reliability
npm run test:security
