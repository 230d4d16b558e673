#!/usr/bin/env bash
# bench_vs_openblas.sh — kiln's Sgemm benchmarks beside OpenBLAS sgemm, in one run.
#
# The machines are shared and noisy, so each round runs OpenBLAS
# (../shared/bench/peak/sgemm.c, built into a scratch dir, never copied
# here) and then `go test -bench Sgemm`, and the summary reports medians
# over rounds and the ratio kiln/OpenBLAS at 512^3 per round.
# OpenBLAS is measured twice: "as-is" (the environment's OPENBLAS_CORETYPE,
# Haswell = AVX2 on these machines) and "native" (OPENBLAS_CORETYPE unset:
# it picks its AVX-512 kernel on Zen 4/5), since kiln uses AVX-512 when the
# CPU has it.
#
# Usage (from the repository root): runtime/kernel/testdata/bench_vs_openblas.sh [out-dir]
# Env: ROUNDS (5), BENCH (Go -bench regexp, default all Sgemm shapes),
#      BENCHTIME (0.5s), SHARED (/work/shared), PYTHON (python3).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../../.." && pwd)"
OUT="${1:-$PWD/bench-results/sgemm-$(date -u +%Y%m%dT%H%M%S)}"
ROUNDS="${ROUNDS:-5}"
BENCH="${BENCH:-Sgemm/}"
BENCHTIME="${BENCHTIME:-0.5s}"
SHARED="${SHARED:-/work/shared}"
mkdir -p "$OUT"
gcc -O2 -Wall "$SHARED/bench/peak/sgemm.c" -o "$OUT/sgemm" -lopenblas
(cd "$ROOT" && go test -c -o "$OUT/kernel.test" ./runtime/kernel)
: > "$OUT/raw.txt"
for ((r = 1; r <= ROUNDS; r++)); do
  echo "== round $r/$ROUNDS" >&2
  for t in 1 2; do
    echo "round=$r openblas=as-is threads=$t $(OPENBLAS_NUM_THREADS=$t "$OUT/sgemm" 512)" >> "$OUT/raw.txt"
    echo "round=$r openblas=native threads=$t $(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=$t "$OUT/sgemm" 512)" >> "$OUT/raw.txt"
  done
  "$OUT/kernel.test" -test.run '^$' -test.bench "$BENCH" -test.benchtime "$BENCHTIME" |
    sed -n "s/^Benchmark/round=$r kiln Benchmark/p" >> "$OUT/raw.txt"
done
"${PYTHON:-python3}" "$(dirname "$0")/summarize_bench.py" "$OUT/raw.txt" | tee "$OUT/summary.md"
