#!/usr/bin/env python3
"""Independent numpy/scipy re-check of the neural-tangents oracle JSONs.

Does NOT import jax or neural-tangents. For every case file listed in
index.json it re-implements, from the spec (shared/spec/ntk-math.md):
  * B.2-B.3 the NNGP/NTK recursion (ReLU, erf, identity) on x_train ++ x_test,
    forcing theta = 0 for identical inputs (spec D.4);
  * C.1-C.5 the ensemble mean/covariance (eigh + expm1 at finite t, Cholesky
    at t = inf, relative diag_reg) from the numpy kernels;
  * the derived quantities by different routes than make_reference.py:
    KL by solve/slogdet, Bayes by scipy.stats.multivariate_normal, KT bounds
    by explicit general-Gaussian formulas, exact I(X;Z) by scipy.integrate.quad
    and by a refined Gauss-Legendre rule (64 nodes, c in -60:0.125:60);
and reports max abs differences (and max relative, scaled by max(1, |ref|)).
Also checks the spec B.3 hand-check numbers, the time convention against
scipy.linalg.expm (train mean, n = y_train.size) and how far a ReLU NTK that
does not force theta = 0 at identical inputs would be off (spec D.4).
Writes verification.json.

    /root/venvs/nt/bin/python data/reference/ntk/verify_numpy.py
"""

import json
import math
import os
import sys

import numpy as np
import scipy
import scipy.integrate
import scipy.linalg
import scipy.stats
from scipy.special import logsumexp

HERE = os.path.dirname(os.path.abspath(__file__))


def kernels(x, arch, force_identical=True):
    n, d = x.shape
    w2, b2 = arch["W_std"] ** 2, arch["b_std"] ** 2
    same = np.all(x[:, None, :] == x[None, :, :], axis=-1)
    phi = x @ x.T / d
    phid = np.sum(x * x, axis=1) / d
    ntk_t = np.zeros((n, n))
    for layer in range(arch["depth"] + 1):
        k = w2 * phi + b2
        kd = w2 * phid + b2
        th = k + w2 * ntk_t
        if layer == arch["depth"]:
            return k, th
        nl = arch["nonlinearity"]
        if nl == "relu":
            prod = np.outer(kd, kd)
            sq = np.sqrt(np.maximum(prod - k * k, 0.0))
            ang = np.arctan2(sq, k)
            if force_identical:  # spec D.4
                ang = np.where(same, 0.0, ang)
                sq = np.where(same, 0.0, sq)
            phi = (sq + (np.pi - ang) * k) / (2 * np.pi)
            dot = (np.pi - ang) / (2 * np.pi)
            phid = kd / 2
        elif nl == "erf":
            den = np.outer(1 + 2 * kd, 1 + 2 * kd)
            phi = (2 / np.pi) * np.arcsin(np.clip(2 * k / np.sqrt(den), -1, 1))
            dot = (4 / np.pi) / np.sqrt(den - 4 * k * k)
            phid = (2 / np.pi) * np.arcsin(2 * kd / (1 + 2 * kd))
        elif nl == "identity":
            phi, phid, dot = k, kd, np.ones_like(k)
        else:
            raise ValueError(nl)
        ntk_t = th * dot


def predictions(knngp, kntk, ntr, y, times, diag_reg, regime):
    """Spec C: returns {'test': (mean[T], cov[T]), 'train': (...)}."""
    n = y.size
    g_all = kntk if regime == "ntk" else knngp
    gdd = g_all[:ntr, :ntr].copy()
    eps = diag_reg * np.trace(gdd) / ntr
    gdd_r = gdd + eps * np.eye(ntr)
    kdd = knngp[:ntr, :ntr]
    g_td = g_all[ntr:, :ntr]
    k_td = knngp[ntr:, :ntr]
    k_tt = knngp[ntr:, ntr:]
    lam, v = np.linalg.eigh(gdd_r)
    lp = np.maximum(lam, 0.0)
    out = {"test": ([], []), "train": ([], [])}
    for t in times:
        if t is None:
            cf = scipy.linalg.cho_factor(gdd_r, lower=False)
            sol_y = scipy.linalg.cho_solve(cf, y)
            mean = g_td @ sol_y
            if regime == "nngp":
                cov = k_tt - k_td @ scipy.linalg.cho_solve(cf, k_td.T)
            else:
                a = scipy.linalg.cho_solve(cf, g_td.T)  # G^-1 Theta_X*
                cov = k_tt + a.T @ kdd @ a - (a.T @ k_td.T + k_td @ a)
            out["test"][0].append(mean)
            out["test"][1].append(cov)
            out["train"][0].append(y.copy())
            out["train"][1].append(np.zeros((ntr, ntr)))
            continue
        tau = t * 1.0
        a_diag = -np.expm1(-lp * tau / n)
        ginv_a = v @ np.diag(a_diag / np.abs(lam)) @ v.T
        mean = g_td @ ginv_a @ y
        if regime == "nngp":
            ginv_a2 = v @ np.diag(-np.expm1(-2 * lp * tau / n) / np.abs(lam)) @ v.T
            cov = k_tt - k_td @ ginv_a2 @ k_td.T
        else:
            m = g_td @ ginv_a  # Theta_*X Theta^-1 A
            cov = k_tt + m @ kdd @ m.T - (m @ k_td.T + k_td @ m.T)
        out["test"][0].append(mean)
        out["test"][1].append(cov)
        out["train"][0].append(v @ np.diag(a_diag) @ v.T @ y)
        if regime == "nngp":
            out["train"][1].append(v @ np.diag(lp * np.exp(-2 * lp * tau / n)) @ v.T)
        else:
            e = v @ np.diag(np.exp(-lp * tau / n)) @ v.T
            out["train"][1].append(e @ kdd @ e)
    return out


def kl_gauss(m1, s1, m2, s2):
    d = len(m1)
    r = m2 - m1
    return 0.5 * (np.trace(np.linalg.solve(s2, s1)) + r @ np.linalg.solve(s2, r) - d
                  + np.linalg.slogdet(s2)[1] - np.linalg.slogdet(s1)[1])


def bd_gauss(m1, s1, m2, s2):
    s = 0.5 * (s1 + s2)
    r = m1 - m2
    return (0.125 * r @ np.linalg.solve(s, r) + 0.5 * (np.linalg.slogdet(s)[1] - 0.5 * (
        np.linalg.slogdet(s1)[1] + np.linalg.slogdet(s2)[1])))


def kt(m, v):
    mm, k = m.shape
    lo_rows, up_rows = [], []
    for i in range(mm):
        si = v[i] * np.eye(k)
        bds = [bd_gauss(m[i], si, m[j], v[j] * np.eye(k)) for j in range(mm)]
        kls = [kl_gauss(m[i], si, m[j], v[j] * np.eye(k)) for j in range(mm)]
        lo_rows.append(logsumexp(-np.array(bds)) - math.log(mm))
        up_rows.append(logsumexp(-np.array(kls)) - math.log(mm))
    return -float(np.mean(lo_rows)), -float(np.mean(up_rows))


def exact_quad(m, v):
    m = m[:, 0]
    sd = np.sqrt(v)

    def neg_plogp(z):
        lp = logsumexp(-0.5 * (z - m) ** 2 / v - 0.5 * np.log(2 * np.pi * v)) - math.log(len(m))
        return -math.exp(lp) * lp

    lo = float(np.min(m - 40 * sd))
    hi = float(np.max(m + 40 * sd))
    pts = sorted(set((m[:, None] + np.arange(-8, 9)[None, :] * sd[:, None]).ravel().tolist()))
    hz, _ = scipy.integrate.quad(neg_plogp, lo, hi, points=pts, limit=2000,
                                 epsabs=1e-14, epsrel=1e-13)
    return hz - float(np.mean(0.5 * np.log(2 * np.pi * np.e * v)))


def exact_gl_refined(m, v, nodes=64, cmax=60.0, step=0.125):
    """Same scheme as make_reference.exact_ixz_1d, twice as fine and wider."""
    m = m[:, 0]
    sd = np.sqrt(v)
    cg = np.arange(-cmax, cmax + 0.5 * step, step)
    bps = np.unique((m[:, None] + cg[None, :] * sd[:, None]).ravel())
    x, w = np.polynomial.legendre.leggauss(nodes)
    a, b = bps[:-1], bps[1:]
    h, c = 0.5 * (b - a), 0.5 * (a + b)
    z = (c[:, None] + h[:, None] * x[None, :]).ravel()
    wz = (h[:, None] * w[None, :]).ravel()
    comp = -0.5 * (z[None, :] - m[:, None]) ** 2 / v[:, None] - 0.5 * np.log(2 * np.pi * v[:, None])
    lp = logsumexp(comp - math.log(len(m)), axis=0)
    return float(-np.sum(wz * np.exp(lp) * lp) - np.mean(0.5 * np.log(2 * np.pi * np.e * v)))


class Diff:
    def __init__(self):
        self.abs = 0.0
        self.rel = 0.0

    def add(self, a, b):
        a = np.asarray(a, dtype=float)
        b = np.asarray(b, dtype=float)
        d = np.abs(a - b)
        if d.size:
            self.abs = max(self.abs, float(np.max(d)))
            self.rel = max(self.rel, float(np.max(d / np.maximum(1.0, np.abs(b)))))

    def out(self):
        return {"max_abs": self.abs, "max_rel_scaled": self.rel}


def main():
    index = json.load(open(os.path.join(HERE, "index.json")))
    report = {"tool": "verify_numpy.py (numpy %s, scipy %s; no jax)" % (np.__version__, scipy.__version__),
              "cases": {}}
    worst = {}
    for entry in index["cases"]:
        d = json.load(open(os.path.join(HERE, entry["file"])))
        arch, inp = d["architecture"], d["inputs"]
        xtr, xte = np.array(inp["x_train"]), np.array(inp["x_test"])
        ytr, yte = np.array(inp["y_train"]), np.array(inp["y_test"])
        ntr = xtr.shape[0]
        times = d["times"]
        kn, kt_ = kernels(np.concatenate([xtr, xte]), arch)
        res = {k: Diff() for k in ("kernel_nngp", "kernel_ntk", "trace_ntk", "mean", "cov",
                                   "kl_to_prior", "gibbs", "bayes", "kt_bounds",
                                   "ixz_exact_vs_quad", "ixz_exact_vs_gl_refined")}
        res["kernel_nngp"].add(kn, d["kernels"]["nngp"])
        res["kernel_ntk"].add(kt_, d["kernels"]["ntk"])
        res["trace_ntk"].add(np.trace(kt_[:ntr, :ntr]), d["trace_ntk_train"])
        info = {}
        if arch["nonlinearity"] == "relu":
            # spec D.4: without theta := 0 for identical inputs the NTK is off
            _, kt_naive = kernels(np.concatenate([xtr, xte]), arch, force_identical=False)
            info["relu_ntk_maxabs_diff_if_theta_not_forced"] = float(
                np.max(np.abs(kt_naive - np.array(d["kernels"]["ntk"]))))
        # time convention: train mean = (I - expm(-t G/n)) Y with n = y_train.size
        for g in ("ntk", "nngp"):
            gdd = np.array(d["kernels"][g])[:ntr, :ntr]
            gdd = gdd + d["training"]["diag_reg_effective"][g] * np.eye(ntr)
            dmax, dwrong = 0.0, 0.0
            for ti, t in enumerate(times):
                if t is None:
                    continue
                ref_m = np.array(d["predictions"][g]["train"]["mean"][ti])
                m = (np.eye(ntr) - scipy.linalg.expm(-t * gdd / ytr.size)) @ ytr
                dmax = max(dmax, float(np.max(np.abs(m - ref_m))))
                m_wrong = (np.eye(ntr) - scipy.linalg.expm(-t * gdd / ntr)) @ ytr
                dwrong = max(dwrong, float(np.max(np.abs(m_wrong - ref_m))))
            info[f"{g}_train_mean_vs_expm_n_eq_y_size"] = dmax
            info[f"{g}_train_mean_vs_expm_n_eq_N (should be 0 only if k=1)"] = dwrong
        for g in ("ntk", "nngp"):
            p = predictions(kn, kt_, ntr, ytr, times, d["training"]["diag_reg"], g)
            ref = d["predictions"][g]
            for s in ("test", "train"):
                res["mean"].add(np.array(p[s][0]), ref[s]["mean"])
                res["cov"].add(np.array(p[s][1]), ref[s]["cov"])
            # derived from the *reference* moments, by other routes
            der = d["derived"][g]
            s0 = np.array(ref["test"]["cov"][0])
            for ti in range(len(times)):
                mu = np.array(ref["test"]["mean"][ti])
                sig = np.array(ref["test"]["cov"][ti])
                sig = 0.5 * (sig + sig.T)
                if der["kl_to_prior"][ti] is not None:
                    kl = np.mean([kl_gauss(mu[:, c], sig, np.zeros(len(mu)), s0)
                                  for c in range(mu.shape[1])])
                    res["kl_to_prior"].add(kl, der["kl_to_prior"][ti])
                gib = float(np.sum(-0.5 * (yte - mu) ** 2 - 0.5 * np.diag(sig)[:, None]
                                   - 0.5 * np.log(2 * np.pi)))
                res["gibbs"].add(gib, der["gibbs_loglik"][ti])
                bay = sum(scipy.stats.multivariate_normal(mu[:, c], sig + np.eye(len(mu))).logpdf(yte[:, c])
                          for c in range(mu.shape[1]))
                res["bayes"].add(bay, der["bayes_loglik"][ti])
                mtr = np.array(ref["train"]["mean"][ti])
                ctr = np.array(ref["train"]["cov"][ti])
                mp = np.concatenate([mtr, mu])
                vr = np.maximum(np.concatenate([np.diag(ctr), np.diag(sig)]), 0.0)
                for s2 in d["derived"]["noise_vars"]:
                    e = der["ixz"][str(s2)]
                    lo, up = kt(mp, vr + s2)
                    res["kt_bounds"].add([lo, up], [e["lower"][ti], e["upper"][ti]])
                    if e["exact"][ti] is not None:
                        res["ixz_exact_vs_quad"].add(exact_quad(mp, vr + s2), e["exact"][ti])
                        res["ixz_exact_vs_gl_refined"].add(exact_gl_refined(mp, vr + s2),
                                                           e["exact"][ti])
        hand = None
        if entry["name"] == "relu_d1_w1.5_b0.1":
            hand = {"nngp00": d["kernels"]["nngp"][0][0], "ntk00": d["kernels"]["ntk"][0][0],
                    "spec_nngp00": 0.94304688, "spec_ntk00": 1.87609375,
                    "x_train0": inp["x_train"][0]}
            # exact rational values: K0 = 1.0925/3
            k0 = 1.0925 / 3
            k1 = 2.25 * k0 + 0.01
            k2 = 2.25 * k1 / 2 + 0.01
            hand["closed_form_nngp00"] = k2
            hand["closed_form_ntk00"] = k2 + 2.25 * (k1 / 2)
            assert abs(hand["nngp00"] - 0.94304688) < 1e-8
            assert abs(hand["ntk00"] - 1.87609375) < 1e-8
        out = {k: v.out() for k, v in res.items()}
        out["info"] = info
        if hand:
            out["hand_check"] = hand
        report["cases"][entry["name"]] = out
        for k, v in res.items():
            w = worst.setdefault(k, [0.0, 0.0, "", ""])
            if v.abs > w[0]:
                w[0], w[2] = v.abs, entry["name"]
            if v.rel > w[1]:
                w[1], w[3] = v.rel, entry["name"]
        print(f"{entry['name']}: " + ", ".join(
            f"{k} {v.abs:.1e}" for k, v in res.items()))
    report["worst"] = {k: {"max_abs": w[0], "case_abs": w[2], "max_rel_scaled": w[1],
                           "case_rel": w[3]} for k, w in worst.items()}
    print(json.dumps(report["worst"], indent=1))
    with open(os.path.join(HERE, "verification.json"), "w") as fh:
        json.dump(report, fh, indent=1)
        fh.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
