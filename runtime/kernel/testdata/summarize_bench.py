"""Summarize bench_vs_openblas.sh output: median GFLOP/s per shape over
rounds, and per-round ratios kiln/OpenBLAS at 512^3 (median of ratios)."""
import json, re, statistics, sys
from collections import defaultdict

kiln = defaultdict(dict)      # name -> round -> gflops
blas = defaultdict(dict)      # (variant, threads) -> round -> gflops
for line in open(sys.argv[1]):
    r = int(re.match(r"round=(\d+)", line).group(1))
    if " openblas=" in line:
        m = re.match(r"round=\d+ openblas=(\S+) threads=(\d+) (\{.*\})", line)
        blas[(m.group(1), int(m.group(2)))][r] = json.loads(m.group(3))["gflops_median"]
    else:
        m = re.search(r"Benchmark(\S+?)(-\d+)?\s.*?([\d.]+) GFLOP/s", line)
        kiln[m.group(1)][r] = float(m.group(3))

print("| shape | kiln GFLOP/s (median) | min | max |")
print("|---|---|---|---|")
for name, rs in kiln.items():
    v = list(rs.values())
    print(f"| {name} | {statistics.median(v):.1f} | {min(v):.1f} | {max(v):.1f} |")
print()
print("| OpenBLAS 512^3 | threads | GFLOP/s (median) | kiln square512 / OpenBLAS (median of per-round ratios) |")
print("|---|---|---|---|")
for (variant, t), rs in sorted(blas.items()):
    k = kiln.get(f"Sgemm/square512/t{t}", {})
    ratios = [k[r] / g for r, g in rs.items() if r in k and g > 0]
    ratio = f"{statistics.median(ratios):.2f}" if ratios else "-"
    print(f"| {variant} | {t} | {statistics.median(rs.values()):.1f} | {ratio} |")
