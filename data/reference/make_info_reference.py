"""Independent reference values for `ibex info`, computed with mpmath (no ibex code).

For each joint: H(X), H(Y), H(X,Y), H(Y|X), I(X;Y) in nats, computed directly from the
definitions at 80 significant digits, and the singular values of
Q(x,y) = p(x,y)/sqrt(p(x)p(y)) from mpmath's own SVD (mpmath.svd_r), undeflated.
The joints are the exact decimal files in data/examples/ (read as exact decimals by
mpmath.mpf from the strings), plus counts normalised exactly.

Run from the repository root:  python3 data/reference/make_info_reference.py
Writes data/reference/info_mpmath.json.
"""
import datetime
import json
import platform
import sys

import mpmath
from mpmath import mp, mpf

mp.dps = 80


def read_dense(path):
    rows = []
    for line in open(path):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        rows.append([mpf(c.strip()) for c in s.split(",")])
    return rows


def read_long_counts(path):
    xs, ys, cells = [], [], {}
    header = None
    for line in open(path):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        if header is None:
            header = s
            continue
        x, y, c = [t.strip() for t in s.split(",")]
        if x not in xs:
            xs.append(x)
        if y not in ys:
            ys.append(y)
        cells[(x, y)] = int(c)
    total = sum(cells.values())
    return [[mpf(cells.get((x, y), 0)) / total for y in ys] for x in xs]


def xlogx(v):
    return v * mpmath.log(v) if v > 0 else mpf(0)


def measures(p):
    px = [sum(r) for r in p]
    py = [sum(p[i][j] for i in range(len(p))) for j in range(len(p[0]))]
    h_x = -sum(xlogx(v) for v in px)
    h_y = -sum(xlogx(v) for v in py)
    h_xy = -sum(xlogx(v) for r in p for v in r)
    h_y_given_x = -sum(xlogx(p[i][j] / px[i]) * px[i] for i in range(len(p)) for j in range(len(p[0])))
    i_xy = sum(p[i][j] * mpmath.log(p[i][j] / (px[i] * py[j]))
               for i in range(len(p)) for j in range(len(p[0])) if p[i][j] > 0)
    live = [j for j in range(len(py)) if py[j] > 0]
    q = mpmath.matrix(len(p), len(live))
    for i in range(len(p)):
        for k, j in enumerate(live):
            q[i, k] = p[i][j] / mpmath.sqrt(px[i] * py[j])
    sv = sorted([mpmath.mpf(s) for s in mpmath.svd_r(q, compute_uv=False)], reverse=True)
    s = lambda v: mpmath.nstr(v, 60)
    return {
        "shape": [len(p), len(p[0])],
        "h_x_nats": s(h_x), "h_y_nats": s(h_y), "h_xy_nats": s(h_xy),
        "h_y_given_x_nats": s(h_y_given_x), "i_xy_nats": s(i_xy),
        "i_xy_bits": s(i_xy / mpmath.log(2)),
        "singular_values": [s(v) for v in sv],
        "rho_m": s(sv[1]) if len(sv) > 1 else "0",
        "beta_critical_first": s(1 / sv[1] ** 2) if len(sv) > 1 and sv[1] > 0 else None,
    }


cases = {
    "ib_3x3": ("data/examples/ib_3x3.csv", read_dense),
    "binary_x_hysteresis": ("data/examples/binary_x_hysteresis.csv", read_dense),
    "bec_e0.4": ("data/examples/bec_e0.4.csv", read_dense),
    "dualib_5x2": ("data/examples/dualib_5x2.csv", read_dense),
    "dsbs_e0.1": ("data/examples/dsbs_e0.1.csv", read_dense),
    "weather_counts_long": ("data/examples/weather_counts_long.csv", read_long_counts),
}
out = {
    "provenance": {
        "tool": "mpmath", "version": mpmath.__version__,
        "python": platform.python_version(),
        "command": "python3 data/reference/make_info_reference.py",
        "working_digits": mp.dps,
        "date": datetime.date.today().isoformat(),
        "note": "definitions evaluated directly; singular values by mpmath.svd_r of the undeflated Q; values printed to 60 significant digits; nats unless the key says bits",
    },
    "cases": {name: dict(file=path, **measures(reader(path))) for name, (path, reader) in cases.items()},
}
json.dump(out, open("data/reference/info_mpmath.json", "w"), indent=1)
print("wrote data/reference/info_mpmath.json", file=sys.stderr)
