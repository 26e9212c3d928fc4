#!/usr/bin/env bash
# Runs every benchmark documented in BENCHMARKS.md, one after another (never in parallel: the
# machine has two cores and each benchmark wants them quiet). Usage: benches/run.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== tagging (benches/tag.rs)"
cargo bench --bench tag
echo "== story matching (benches/dedup.rs)"
cargo bench --bench dedup
echo "== serving vs nginx (benches/serve.sh)"
bash benches/serve.sh "${1:-3}"
