#!/usr/bin/env bash
# Create the pinned virtualenv with embo, dit and numpy used by compare_solve.py.
# It lives OUTSIDE the repo. Idempotent: a second run with the venv already in
# place and at the pinned versions only re-checks it.
#   bash benches/compare_python/setup.sh                   # -> /root/venvs/cmp
#   CMP_VENV=/some/dir PYTHON=python3.11 bash .../setup.sh
# Needs PyPI (pip) only; all wheels are pure Python or manylinux; ~250 MB on disk.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
VENV="${CMP_VENV:-/root/venvs/cmp}"
PY="${PYTHON:-python3}"
REQ="$HERE/requirements.txt"   # full pinned closure (pip freeze of a working venv)

if ! "$PY" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)'; then
  echo "warning: $("$PY" --version 2>&1) is not Python 3.11, the version these" \
       "pins were resolved on; they may not install" >&2
fi

check() {
  "$VENV/bin/python" - "$REQ" <<'PY'
import sys, importlib.metadata as md
want = {}
for line in open(sys.argv[1]):
    line = line.split("#")[0].strip()
    if line:
        name, ver = line.split("==")
        want[name] = ver
bad = {}
for name, ver in want.items():
    try:
        got = md.version(name)
    except md.PackageNotFoundError:
        got = None
    if got != ver:
        bad[name] = (got, ver)
if bad:
    print(f"version mismatch (got, wanted): {bad}", file=sys.stderr)
    sys.exit(1)
# smoke test: both libraries import and solve one tiny IB point
import numpy as np
from embo import InformationBottleneck
from dit.rate_distortion import InformationBottleneck as DitIB
import dit
p = np.array([[0.45, 0.05], [0.05, 0.45]])
px, py = p.sum(1), p.sum(0)
np.random.seed(0)
ix, iy, _, _ = InformationBottleneck.beta_iter(1, 100 * np.log(2), px, py, p.T / px, 2, 3, 100)
assert abs(ix - 1) < 1e-6 and abs(iy - 0.5310044064107188) < 1e-6, (ix, iy)
c, r = DitIB.functional()(dit.Distribution.from_ndarray(p), 100.0)
assert abs(c - 1) < 1e-6 and abs(r - 0.5310044064107188) < 1e-6, (c, r)
print("ok:", {k: want[k] for k in ("embo", "dit", "numpy", "scipy")})
PY
}

if [ -x "$VENV/bin/python" ] && check 2>/dev/null; then
  echo "venv already ready: $VENV"
  exit 0
fi

[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q -r "$REQ"
check
echo "venv ready: $VENV"
