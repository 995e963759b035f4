#!/usr/bin/env bash
# Write the joints p(x,y) the comparison runs on, as dense CSV, into a directory.
#   bash benches/compare_python/make_joints.sh [OUTDIR]     # default: a new mktemp -d
# The last line of standard output is the directory.
#
# With a working ibex binary (IBEX=path, default target/release/ibex) the joints come
# from ibex's own generators, which are bit-for-bit reproducible:
#   dsbs_e0.1              ibex gen dsbs --crossover 0.1
#   dirichlet_64x16_seed1  ibex gen dirichlet --nx 64 --ny 16 --seed 1
#   dirichlet_256x32_seed1 ibex gen dirichlet --nx 256 --ny 32 --seed 1
#   gaussian_rho0.9_n100   ibex gen gaussian --n 100 --rho 0.9      (range +-4 sd)
# The bundled files in data/examples/ are always copied too (ib_3x3, gaussian n32, and
# dsbs/dirichlet 64x16 when ibex is missing). A generated file that differs from the
# bundled one of the same name is reported (it should not: the generators are exact).
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
IBEX="${IBEX:-$ROOT/target/release/ibex}"
OUT="${1:-$(mktemp -d -t ibex_cmp_joints.XXXXXX)}"
mkdir -p "$OUT"

for f in dsbs_e0.1 ib_3x3 dirichlet_64x16_seed1 gaussian_rho0.9_n32; do
  cp "$ROOT/data/examples/$f.csv" "$OUT/$f.csv"
done

if [ -x "$IBEX" ] && "$IBEX" gen --help >/dev/null 2>&1; then
  gen() {  # gen NAME ARGS...
    local name="$1"; shift
    "$IBEX" gen "$@" --out "$OUT/$name.csv.new"
    if [ -f "$OUT/$name.csv" ] && ! cmp -s "$OUT/$name.csv" "$OUT/$name.csv.new"; then
      echo "note: ibex gen $* differs from the bundled data/examples/$name.csv; using the generated one" >&2
    fi
    mv "$OUT/$name.csv.new" "$OUT/$name.csv"
  }
  gen dsbs_e0.1 dsbs --crossover 0.1
  gen dirichlet_64x16_seed1 dirichlet --nx 64 --ny 16 --seed 1
  gen dirichlet_256x32_seed1 dirichlet --nx 256 --ny 32 --seed 1
  gen gaussian_rho0.9_n100 gaussian --n 100 --rho 0.9
else
  echo "note: no working ibex at $IBEX: only the bundled joints (no 256x32 Dirichlet, no 100x100 Gaussian)" >&2
fi

echo "$OUT"
