#!/usr/bin/env bash
# The whole test suite: unit tests, then integration tests that start their own berthd instances.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(find dist/test -name '*.test.js' | sort)
exec node --test --test-reporter=spec --test-concurrency=2 --test-timeout=180000 "${files[@]}"
