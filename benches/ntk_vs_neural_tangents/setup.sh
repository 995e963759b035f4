#!/usr/bin/env bash
# Create the pinned neural-tangents virtualenv used by bench_nt.py and by
# data/reference/ntk/make_reference.py. It lives OUTSIDE the repo.
#   bash benches/ntk_vs_neural_tangents/setup.sh            # -> /root/venvs/nt
#   NT_VENV=/some/dir PYTHON=python3.11 bash .../setup.sh
# Needs PyPI (pip) only; CPU wheels; about 1.5 GB on disk once installed.
set -euo pipefail

VENV="${NT_VENV:-/root/venvs/nt}"
PY="${PYTHON:-python3}"

if ! "$PY" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)'; then
  echo "warning: $("$PY" --version 2>&1) is not Python 3.11, the version the" \
       "oracle was generated with; the pins may not resolve" >&2
fi

"$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install --upgrade pip
"$VENV/bin/python" -m pip install \
  neural-tangents==0.6.5 jax==0.4.23 jaxlib==0.4.23 numpy==1.26.4 scipy==1.11.4 \
  tensorflow==2.15.1 tf2jax==0.3.5

"$VENV/bin/python" - <<'PY'
import importlib.metadata as md
want = {"neural-tangents": "0.6.5", "jax": "0.4.23", "jaxlib": "0.4.23",
        "numpy": "1.26.4", "scipy": "1.11.4", "tensorflow": "2.15.1",
        "tf2jax": "0.3.5"}
got = {k: md.version(k) for k in want}
bad = {k: (got[k], v) for k, v in want.items() if got[k] != v}
if bad:
    raise SystemExit(f"version mismatch (got, wanted): {bad}")
import os
os.environ.setdefault("JAX_PLATFORMS", "cpu")
import jax
jax.config.update("jax_enable_x64", True)
from neural_tangents import stax
_, _, kfn = stax.serial(stax.Dense(512, 1.5, 0.1), stax.Relu(), stax.Dense(1, 1.5, 0.1))
k = kfn(jax.numpy.array([[0.9, -0.35, 0.4]]), None, ("nngp", "ntk"))
assert abs(float(k.nngp[0, 0]) - 0.94304688) < 1e-8, float(k.nngp[0, 0])
assert abs(float(k.ntk[0, 0]) - 1.87609375) < 1e-8, float(k.ntk[0, 0])
print("ok:", got)
PY
echo "venv ready: $VENV"
