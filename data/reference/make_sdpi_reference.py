"""Independent high-precision reference values of the nucleation constants (no ibex code).

  s*      = sup_{r != p_X} D(rP || p_Y) / D(r || p_X)           (spec ib §3.1, "eta_KL")
  eta_dual = sup_{r != p_X} D(q_p || q_r) / D(r || p_X),
            q_r(y) = prod_x p(y|x)^r(x) / sum_y' prod_x p(y'|x)^r(x)   (spec ib §3.6)

for data/examples/ib_3x3.csv and data/examples/dualib_5x2.csv, whose decimal entries are read
as exact numbers (mpmath.mpf of the strings) at 80 significant digits.

Method (independent of ibex's Newton polish on the simplex face):
  * the ratio is written in softmax coordinates r = p_X e^z / sum(p_X e^z), z_0 = 0, so every
    r is interior (the suprema here are interior: moving mass onto a zero coordinate changes
    D(r||p_X) with infinite slope);
  * a coarse start: a grid over the simplex (3x3: step 1/200 in (r_1, r_2)) or, for the
    binary-Y 5x2 example, the exact 1-D reduction of spec ib §3.6 / oracle_eta_mp.py
    (r = exponential tilt of p_X in a(x) = p(y=2|x) for s*, in b(x) = ln p(y=2|x)/p(y=1|x)
    for eta_dual), maximised on a grid of theta;
  * mpmath.findroot (multidimensional Newton, numerical Jacobian) on grad_z ratio = 0, with
    the gradient computed by mpmath.diff (numerical differentiation at 80 digits);
  * the result is accepted only if the gradient norm at the root is below 1e-60 and the
    ratio exceeds its value at 200 random points of the simplex.
  * for the 5x2 example the full (4-D) stationary point is also compared with the 1-D
    tilt optimum (polished by findroot on d/dtheta), and both values are printed.

Pinned: mpmath==1.3.0, Python 3. Run from the repository root:
    python3 data/reference/make_sdpi_reference.py
(about a minute on one core). Prints 70 significant digits of each constant; the values are
pasted into tests/thresholds.rs.
"""
import random
import sys

import mpmath
from mpmath import mp, mpf

mp.dps = 80
assert mpmath.__version__ == "1.3.0", mpmath.__version__


def read_dense(path):
    rows = []
    for line in open(path):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        rows.append([mpf(c.strip()) for c in s.split(",")])
    return rows


class Problem:
    def __init__(self, rows):
        total = mp.fsum(v for row in rows for v in row)
        P = [[v / total for v in row] for row in rows]
        self.nx, self.ny = len(P), len(P[0])
        self.px = [mp.fsum(r) for r in P]
        self.pyx = [[P[i][j] / self.px[i] for j in range(self.ny)] for i in range(self.nx)]
        self.py = [mp.fsum(P[i][j] for i in range(self.nx)) for j in range(self.ny)]
        self.L = [[mp.log(v) for v in row] for row in self.pyx]
        self.qp = self.geo(self.px)

    def geo(self, r):
        s = [mp.fsum(r[i] * self.L[i][j] for i in range(self.nx)) for j in range(self.ny)]
        m = max(s)
        z = mp.fsum(mp.exp(v - m) for v in s)
        return [mp.exp(v - m) / z for v in s]

    def r_of(self, z):
        w = [self.px[0]] + [self.px[i] * mp.exp(z[i - 1]) for i in range(1, self.nx)]
        t = mp.fsum(w)
        return [v / t for v in w]

    def ratio_r(self, r, kind):
        dx = mp.fsum(r[i] * mp.log(r[i] / self.px[i]) for i in range(self.nx))
        if kind == "sdpi":
            ry = [mp.fsum(r[i] * self.pyx[i][j] for i in range(self.nx)) for j in range(self.ny)]
            num = mp.fsum(ry[j] * mp.log(ry[j] / self.py[j]) for j in range(self.ny))
        else:
            qr = self.geo(r)
            num = mp.fsum(self.qp[j] * mp.log(self.qp[j] / qr[j]) for j in range(self.ny))
        return num / dx

    def ratio_z(self, z, kind):
        return self.ratio_r(self.r_of(z), kind)

    def z_of(self, r):
        return [mp.log(r[i] / self.px[i]) - mp.log(r[0] / self.px[0]) for i in range(1, self.nx)]


def polish(prob, kind, r0):
    n = prob.nx - 1

    def grad(*z):
        z = list(z)
        out = []
        for j in range(n):
            def f(t, j=j):
                zz = list(z)
                zz[j] = t
                return prob.ratio_z(zz, kind)
            out.append(mp.diff(f, z[j]))
        return out

    z0 = prob.z_of(r0)
    zs = mp.findroot(grad, z0, tol=mpf(10) ** (-140))
    zs = [zs] if n == 1 else [zs[i] for i in range(n)]
    g = max(abs(v) for v in grad(*zs))
    val = prob.ratio_z(zs, kind)
    assert g < mpf(10) ** (-60), (kind, g)
    rng = random.Random(1)
    for _ in range(200):
        w = [mpf(rng.random()) ** 3 for _ in range(prob.nx)]
        t = mp.fsum(w)
        r = [v / t for v in w]
        assert prob.ratio_r(r, kind) < val
    return val, prob.r_of(zs), g


def grid_start_3(prob, kind):
    best = None
    k = 200
    for a in range(1, k):
        for b in range(1, k - a):
            r = [mpf(k - a - b) / k, mpf(a) / k, mpf(b) / k]
            if max(abs(r[i] - prob.px[i]) for i in range(3)) < mpf("0.02"):
                continue
            with mp.workdps(15):
                v = prob.ratio_r(r, kind)
            if best is None or v > best[0]:
                best = (v, r)
    return best[1]


def tilt(prob, f, theta):
    w = [prob.px[i] * mp.exp(theta * f[i]) for i in range(prob.nx)]
    t = mp.fsum(w)
    return [v / t for v in w]


def tilt_optimum(prob, kind):
    if kind == "sdpi":
        f = [prob.pyx[i][1] for i in range(prob.nx)]
    else:
        f = [prob.L[i][1] - prob.L[i][0] for i in range(prob.nx)]
    g = lambda th: prob.ratio_r(tilt(prob, f, th), kind)
    grid = [mpf(t) / 20 for t in list(range(-400, 0)) + list(range(1, 401))]
    with mp.workdps(15):
        t0 = max(grid, key=g)
    th = mp.findroot(lambda t: mp.diff(g, t), t0, tol=mpf(10) ** (-140))
    return g(th), tilt(prob, f, th), th


def main():
    print(f"# mpmath {mpmath.__version__}, Python {sys.version.split()[0]}, mp.dps = {mp.dps}")
    p3 = Problem(read_dense("data/examples/ib_3x3.csv"))
    for kind in ("sdpi", "dual"):
        val, r, g = polish(p3, kind, grid_start_3(p3, kind))
        print(f"ib_3x3 {kind}: {mp.nstr(val, 70)}")
        print(f"   argmax r = {[mp.nstr(v, 20) for v in r]}, |grad| = {mp.nstr(g, 3)}")
    p5 = Problem(read_dense("data/examples/dualib_5x2.csv"))
    for kind in ("sdpi", "dual"):
        v1, r1, th = tilt_optimum(p5, kind)
        val, r, g = polish(p5, kind, r1)
        print(f"dualib_5x2 {kind}: {mp.nstr(val, 70)}")
        print(f"   1-D tilt value  {mp.nstr(v1, 70)} (theta* = {mp.nstr(th, 20)})")
        print(f"   |full - tilt| = {mp.nstr(abs(val - v1), 3)}, |grad| = {mp.nstr(g, 3)}")
        print(f"   argmax r = {[mp.nstr(v, 20) for v in r]}")


if __name__ == "__main__":
    main()
