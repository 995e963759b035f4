#!/usr/bin/env python3
"""Build the neural-tangents reference oracle for ibex's NTK part.

Run from anywhere, in the pinned environment (see README.md next to this file):

    /root/venvs/nt/bin/python data/reference/ntk/make_reference.py

It writes one JSON file per case plus `index.json` into the directory that
holds this script (or into --out-dir). Nothing is downloaded: the inputs are
drawn from numpy's default_rng with fixed seeds, inside this script.

What comes from neural-tangents (the oracle proper):
  * `kernels.nngp`, `kernels.ntk`: analytic kernel_fn over x_train ++ x_test.
  * `predictions`: nt.predict.gradient_descent_mse_ensemble moments.
What is computed here with plain numpy/scipy from those moments:
  * `derived`: KL to the t=0 prior, Gibbs/Bayes log-likelihoods, the
    Kolchinsky-Tracey bounds and a quadrature value of I(X;Z), tr NTK.
All conventions are written into every JSON's `provenance.conventions`.
"""

import argparse
import datetime
import hashlib
import importlib.metadata
import json
import math
import os
import platform
import sys

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import scipy  # noqa: E402
import scipy.linalg  # noqa: E402
from scipy.special import logsumexp  # noqa: E402

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)

import neural_tangents as nt  # noqa: E402
from neural_tangents import stax  # noqa: E402

SCHEMA_VERSION = 1
HIDDEN_WIDTH = 512  # irrelevant for the analytic kernels; recorded only
TIMES = [0.0, 0.1, 1.0, 10.0, 100.0, None]  # None = t -> infinity (t=None)
FINITE_TIMES = [t for t in TIMES if t is not None]
NOISE_VARS = [0.01, 0.1]
LEARNING_RATE = 1.0
REGIMES = ["ntk", "nngp"]
QUAD_NODES = 32
QUAD_C_MAX = 40.0
QUAD_C_STEP = 0.25
KL_MAX_COND = 1e6  # above this condition number of Sigma_t the KL is stored as null

HAND_CHECK_X = [0.9, -0.35, 0.4]

PACKAGES = ["neural-tangents", "jax", "jaxlib", "numpy", "scipy",
            "tensorflow", "tf2jax", "ml-dtypes", "opt-einsum", "frozendict"]

CONVENTIONS = {
    "parameterization": (
        "stax.Dense default 'ntk': z = (W_std/sqrt(fan_in)) W x + b_std b, "
        "W, b ~ N(0,1). The analytic kernel_fn ignores widths."),
    "input_kernel": "K0(x,x') = <x,x'>/d_in, Theta0 = 0.",
    "network": (
        "stax.serial([Dense(512, W_std, b_std), phi] * depth, "
        "Dense(k, W_std, b_std)); phi = Relu() | Erf() (a=1,b=1,c=0) | none "
        "(identity: the hidden block is only the Dense layer). Every Dense "
        "uses the same (W_std, b_std)."),
    "kernel_order": (
        "kernels are (N+M)x(N+M) over x_all = concat(x_train, x_test): "
        "rows/cols 0..N-1 are x_train, N..N+M-1 are x_test. They come from "
        "one call kernel_fn(x_all, None, ('nngp','ntk')). Multi-output "
        "kernels are K (x) I_k (trace_axes=(-1,)); only the scalar K is stored."),
    "loss_and_time": (
        "gradient flow on L = (1/(2n)) sum_{i,c} (f_c(x_i) - Y_ic)^2 with "
        "n = y_train.size = N*k; learning_rate eta = 1 so tau = eta*t = t; "
        "every exponential is exp(-tau*G/n), G = Theta (regime 'ntk') or "
        "K (regime 'nngp'). t = null means t=None in neural-tangents "
        "(t -> infinity, computed by Cholesky solve)."),
    "diag_reg": (
        "relative scale (diag_reg_absolute_scale=False): G_dd <- G_dd + "
        "eps*tr(G_dd)/N * I, only the regime's train-train kernel, both in the "
        "eigendecomposition (finite t, all splits incl. x_test=None) and in "
        "the Cholesky factor (t=inf, test split). At t=inf the train split "
        "(x_test=None) is N(y_train, 0) regardless of diag_reg. The NNGP "
        "K_XX sandwiched in the NTK covariance, K_X* and K_** are never "
        "regularised. Effective eps' per regime stored in training.diag_reg_effective."),
    "predictions": (
        "predict_fn = nt.predict.gradient_descent_mse_ensemble(kernel_fn, "
        "x_train, y_train, learning_rate=1.0, diag_reg=diag_reg); "
        "finite t: predict_fn(t=array(FINITE_TIMES), x_test=X, get=g, "
        "compute_cov=True); t=inf: predict_fn(t=None, ...). Split 'test' "
        "uses x_test=x_test, split 'train' uses x_test=None. mean[t][i][c], "
        "cov[t][i][j] (the covariance is shared by all k output channels)."),
    "prior": (
        "the t=0 ensemble: mean 0, covariance = the split's t=0 predicted "
        "covariance (= NNGP K_** of that split)."),
    "kl_to_prior": (
        "KL( N(mu_t(X*), Sigma_t(X*,X*)) || N(0, Sigma_0(X*,X*)) ) jointly over "
        "the M test points, computed per output channel and averaged over "
        "channels (nats). Sigma symmetrised, Cholesky, no jitter. null when "
        "the 2-norm condition number of Sigma_t (eigvalsh) exceeds 1e6 or "
        "Sigma_t is not positive definite: singular (t=inf at a test point "
        "equal to a training point; the identity kernel, whose posterior "
        "has rank < M) or too ill-conditioned for a 1e-10 comparison. null "
        "means 'not tested', not 'ibex must fail'."),
    "gibbs_loglik": (
        "sum over test points i and channels c of "
        "-0.5*(y_ic - mu_ic)^2 - 0.5*Sigma_ii - 0.5*ln(2*pi) (nats; unit "
        "decoder noise; spec A.2 Q1)."),
    "bayes_loglik": (
        "sum over channels c of ln N(y_c; mu_c, Sigma + I) with y_c, mu_c the "
        "M-vectors over test points (joint over points; nats; spec A.2 Q2)."),
    "ixz": (
        "X uniform over the N+M points x_train ++ x_test (c_i = 1/(N+M)); "
        "Z | x_i ~ N(m_i, v_i I_k) with m_i = predicted mean row, "
        "v_i = max(Sigma_ii, 0) + noise_var, where training points take the "
        "'train' split (x_test=None) and test points the 'test' split at the "
        "same t and regime. lower = -sum_i c_i ln sum_j c_j exp(-BD_ij) "
        "(Bhattacharyya), upper = same with KL_ij = KL(p_i||p_j); "
        "BD_ij = (k/2) ln((v_i+v_j)/(2 sqrt(v_i v_j))) + |dm|^2/(4(v_i+v_j)), "
        "KL_ij = (k/2)[ln(v_j/v_i) + v_i/v_j - 1] + |dm|^2/(2 v_j). "
        "exact = H(Z) - sum_i c_i (k/2) ln(2 pi e v_i) with H(Z) = -int p ln p "
        "by composite Gauss-Legendre, 32 nodes per interval, breakpoints "
        "m_i + c sqrt(v_i) for c in -40:0.25:40 for every component i "
        "(union, sorted, exact duplicates removed); only for k = 1 (null "
        "otherwise). All in nats; ln_M = ln(N+M)."),
    "trace_ntk_train": "trace of Theta over the N training points (spec A.2 Q5).",
    "number_format": (
        "floats are written with Python's repr (shortest string that "
        "round-trips to the identical float64, at most 17 significant "
        "digits); NaN/inf never appear, null marks an undefined value."),
}


# --------------------------------------------------------------------------
# Data

def target_fn(x, k):
    """Smooth target, 1 or 2 columns."""
    cols = [np.sin(1.3 * x[:, 0]) + 0.5 * x[:, 1] * x[:, 2]]
    if k == 2:
        cols.append(np.cos(x[:, 0] + x[:, -1]) - 0.3 * x[:, 1])
    return np.stack(cols, axis=1)


def make_dataset(name):
    """Deterministic small datasets. Returns dict with arrays and notes."""
    n_train, n_test = 6, 4
    noise_std = 0.1
    if name in ("base", "base_k2", "dup_test", "dup_train"):
        d_in, seed = 3, 20240601
    elif name == "wide8":
        d_in, seed = 8, 20240602
    else:
        raise ValueError(name)
    k = 2 if name == "base_k2" else 1
    rng = np.random.default_rng(seed)
    x_train = rng.normal(size=(n_train, d_in))
    x_test = rng.normal(size=(n_test, d_in))
    eps_train = rng.normal(size=(n_train, 2))
    eps_test = rng.normal(size=(n_test, 2))
    notes = [f"x ~ N(0, I_{d_in}) from numpy default_rng({seed}): x_train "
             f"({n_train},{d_in}) then x_test ({n_test},{d_in}) then noise "
             f"eps_train ({n_train},2), eps_test ({n_test},2)",
             "y = f(x) + 0.1*eps[:, :k], f_1(x) = sin(1.3 x_0) + 0.5 x_1 x_2"
             + (", f_2(x) = cos(x_0 + x_{d-1}) - 0.3 x_1" if k == 2 else "")]
    duplicates = []
    if d_in == 3:
        x_train[0] = HAND_CHECK_X
        notes.append("x_train[0] overwritten with (0.9, -0.35, 0.4) for the "
                     "spec B.3 hand check")
    if name == "dup_test":
        x_test[1] = x_train[2]
        duplicates.append({"a": ["train", 2], "b": ["test", 1]})
        notes.append("x_test[1] := x_train[2] (duplicated input across splits)")
    if name == "dup_train":
        x_train[5] = x_train[1]
        duplicates.append({"a": ["train", 1], "b": ["train", 5]})
        notes.append("x_train[5] := x_train[1] (duplicated training input, "
                     "different noisy targets; G_dd is singular without diag_reg)")
    y_train = target_fn(x_train, k) + noise_std * eps_train[:, :k]
    y_test = target_fn(x_test, k) + noise_std * eps_test[:, :k]
    return dict(name=name, d_in=d_in, k=k, seed=seed, x_train=x_train,
                x_test=x_test, y_train=y_train, y_test=y_test,
                notes=notes, duplicates=duplicates)


# --------------------------------------------------------------------------
# Cases

def case(name, dataset, nonlin, depth, w, b, diag_reg=0.0, note=""):
    return dict(name=name, dataset=dataset, nonlinearity=nonlin, depth=depth,
                W_std=w, b_std=b, diag_reg=diag_reg, note=note)


CASES = [
    case("relu_d1_w1.5_b0.1", "base", "relu", 1, 1.5, 0.1,
         note="spec B.3 hand check: kernels.nngp[0][0] = 0.94304688, "
              "kernels.ntk[0][0] = 1.87609375"),
    case("relu_d1_w1.0_b0.0", "base", "relu", 1, 1.0, 0.0),
    case("relu_d3_w1.5_b0.1", "base", "relu", 3, 1.5, 0.1),
    case("relu_d3_w2.0_b0.5", "base", "relu", 3, 2.0, 0.5),
    case("erf_d2_w1.5_b0.1", "base", "erf", 2, 1.5, 0.1),
    case("erf_d2_w1.0_b0.0", "base", "erf", 2, 1.0, 0.0,
         note="b_std = 0 as in the authors' erf network"),
    case("identity_d2_w1.5_b0.1", "wide8", "identity", 2, 1.5, 0.1,
         note="d_in = 8 so that the linear kernel on 6 training points is "
              "full rank (with d_in = 3 it has rank <= 4)"),
    case("identity_d2_w2.0_b0.5", "wide8", "identity", 2, 2.0, 0.5,
         note="d_in = 8, see identity_d2_w1.5_b0.1"),
    case("relu_d3_w1.5_b0.1_reg1e-2", "base", "relu", 3, 1.5, 0.1, 1e-2,
         note="relative diag_reg = 1e-2"),
    case("relu_d3_w1.5_b0.1_duptest", "dup_test", "relu", 3, 1.5, 0.1,
         note="test point 1 equals training point 2: identical-input ReLU "
              "kernel entries (spec D.4) and zero posterior variance at t=inf"),
    case("relu_d2_w1.5_b0.1_duptrain_reg1e-2", "dup_train", "relu", 2, 1.5,
         0.1, 1e-2,
         note="training points 1 and 5 coincide; diag_reg = 1e-2 makes the "
              "problem well posed (with diag_reg = 0 neural-tangents' t=None "
              "Cholesky raises no error and returns NaN (regime ntk here) or "
              "finite but unreliable numbers (regime nngp here), depending on "
              "the sign of a ~1e-15 rounding eigenvalue)"),
    case("relu_d1_w1.5_b0.1_k2", "base_k2", "relu", 1, 1.5, 0.1,
         note="2-column targets: n = y_train.size = 12"),
    case("erf_d2_w1.5_b0.1_k2_reg1e-2", "base_k2", "erf", 2, 1.5, 0.1, 1e-2,
         note="2-column targets and relative diag_reg = 1e-2"),
]


def build_network(c, k):
    layers = []
    for _ in range(c["depth"]):
        layers.append(stax.Dense(HIDDEN_WIDTH, W_std=c["W_std"], b_std=c["b_std"]))
        if c["nonlinearity"] == "relu":
            layers.append(stax.Relu())
        elif c["nonlinearity"] == "erf":
            layers.append(stax.Erf())
        elif c["nonlinearity"] == "identity":
            pass
        else:
            raise ValueError(c["nonlinearity"])
    layers.append(stax.Dense(k, W_std=c["W_std"], b_std=c["b_std"]))
    _, _, kernel_fn = stax.serial(*layers)
    phi = {"relu": "Relu()", "erf": "Erf()", "identity": None}[c["nonlinearity"]]
    block = f"Dense({HIDDEN_WIDTH}, W_std={c['W_std']}, b_std={c['b_std']})"
    if phi:
        block += ", " + phi
    desc = ("stax.serial(" + ", ".join([block] * c["depth"]) +
            f", Dense({k}, W_std={c['W_std']}, b_std={c['b_std']}))")
    return kernel_fn, desc


# --------------------------------------------------------------------------
# Derived quantities (numpy / scipy only)

def sym(a):
    return 0.5 * (a + a.T)


def chol_logdet(s):
    lo = np.linalg.cholesky(s)
    return lo, 2.0 * float(np.sum(np.log(np.diag(lo))))


def kl_to_prior(mu, sig, sig0):
    """Mean over channels of KL(N(mu_c, sig) || N(0, sig0)); mu is (M, k)."""
    sig, sig0 = sym(sig), sym(sig0)
    w = np.linalg.eigvalsh(sig)
    if w[0] <= 0 or w[-1] / w[0] > KL_MAX_COND:
        return None
    try:
        l1, ld1 = chol_logdet(sig)
        l0, ld0 = chol_logdet(sig0)
    except np.linalg.LinAlgError:
        return None
    m = sig.shape[0]
    a = scipy.linalg.solve_triangular(l0, l1, lower=True)
    tr = float(np.sum(a * a))
    vals = []
    for c in range(mu.shape[1]):
        r = scipy.linalg.solve_triangular(l0, mu[:, c], lower=True)
        vals.append(0.5 * (tr + float(r @ r) - m + ld0 - ld1))
    return float(np.mean(vals))


def gibbs_loglik(y, mu, sig):
    d = np.diag(sig)[:, None]
    return float(np.sum(-0.5 * (y - mu) ** 2 - 0.5 * d - 0.5 * math.log(2 * math.pi)))


def bayes_loglik(y, mu, sig):
    s = sym(sig) + np.eye(sig.shape[0])
    lo, ld = chol_logdet(s)
    m = s.shape[0]
    tot = 0.0
    for c in range(y.shape[1]):
        r = scipy.linalg.solve_triangular(lo, y[:, c] - mu[:, c], lower=True)
        tot += -0.5 * float(r @ r) - 0.5 * ld - 0.5 * m * math.log(2 * math.pi)
    return tot


def kt_bounds(m, v):
    """Kolchinsky-Tracey bounds on I(X;Z), uniform c. m (M,k), v (M,)."""
    mm, k = m.shape
    d2 = np.sum((m[:, None, :] - m[None, :, :]) ** 2, axis=-1)
    vi, vj = v[:, None], v[None, :]
    kl = 0.5 * k * (np.log(vj / vi) + vi / vj - 1.0) + d2 / (2.0 * vj)
    bd = 0.5 * k * np.log((vi + vj) / (2.0 * np.sqrt(vi * vj))) + d2 / (4.0 * (vi + vj))
    logc = -math.log(mm)

    def bound(dmat):
        inner = logsumexp(logc - dmat, axis=1)  # ln sum_j c_j exp(-D_ij)
        return float(-np.sum(np.exp(logc) * inner))

    return bound(bd), bound(kl)


def exact_ixz_1d(m, v):
    """I(X;Z) for a uniform 1-D Gaussian mixture by composite Gauss-Legendre."""
    m = m[:, 0]
    mm = m.shape[0]
    sd = np.sqrt(v)
    cgrid = np.arange(-QUAD_C_MAX, QUAD_C_MAX + 0.5 * QUAD_C_STEP, QUAD_C_STEP)
    bps = np.unique((m[:, None] + cgrid[None, :] * sd[:, None]).ravel())
    nodes, weights = np.polynomial.legendre.leggauss(QUAD_NODES)
    a, b = bps[:-1], bps[1:]
    half, mid = 0.5 * (b - a), 0.5 * (b + a)
    z = (mid[:, None] + half[:, None] * nodes[None, :]).ravel()
    wz = (half[:, None] * weights[None, :]).ravel()
    logc = -math.log(mm)
    comp = (-0.5 * (z[None, :] - m[:, None]) ** 2 / v[:, None]
            - 0.5 * np.log(2 * math.pi * v[:, None]))
    logp = logsumexp(logc + comp, axis=0)
    h_z = float(-np.sum(wz * np.exp(logp) * logp))
    h_zx = float(np.mean(0.5 * np.log(2 * math.pi * math.e * v)))
    return h_z - h_zx


# --------------------------------------------------------------------------

def f64(x):
    """Convert nested arrays to lists of Python floats; non-finite -> None."""
    if x is None:
        return None
    a = np.asarray(x, dtype=np.float64)
    if a.ndim == 0:
        v = float(a)
        return v if math.isfinite(v) else None
    return [f64(r) for r in a]


def versions():
    out = {}
    for p in PACKAGES:
        try:
            out[p] = importlib.metadata.version(p)
        except importlib.metadata.PackageNotFoundError:
            out[p] = None
    return out


def provenance(args):
    here = os.path.abspath(__file__)
    with open(here, "rb") as fh:
        sha = hashlib.sha256(fh.read()).hexdigest()
    return {
        "tool": "neural-tangents analytic kernel_fn + nt.predict.gradient_descent_mse_ensemble",
        "versions": versions(),
        "python": sys.version,
        "python_implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "jax_backend": jax.default_backend(),
        "jax_enable_x64": bool(jax.config.jax_enable_x64),
        "env": {k: os.environ.get(k) for k in
                ("JAX_PLATFORMS", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "XLA_FLAGS")},
        "command": [sys.executable] + sys.argv,
        "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "script": "data/reference/ntk/make_reference.py",
        "script_sha256": sha,
        "spec": "shared/spec/ntk-math.md sections B-E",
        "conventions": CONVENTIONS,
    }


def run_case(c, prov):
    ds = make_dataset(c["dataset"])
    k = ds["k"]
    kernel_fn, desc = build_network(c, k)
    x_tr, x_te = ds["x_train"], ds["x_test"]
    y_tr, y_te = ds["y_train"], ds["y_test"]
    n_tr, n_te = x_tr.shape[0], x_te.shape[0]
    x_all = np.concatenate([x_tr, x_te], axis=0)

    kern = kernel_fn(x_all, None, ("nngp", "ntk"))
    k_nngp = np.asarray(kern.nngp, dtype=np.float64)
    k_ntk = np.asarray(kern.ntk, dtype=np.float64)

    predict_fn = nt.predict.gradient_descent_mse_ensemble(
        kernel_fn, x_tr, y_tr, learning_rate=LEARNING_RATE,
        diag_reg=c["diag_reg"])

    preds = {}
    for g in REGIMES:
        preds[g] = {}
        for split, xt in (("test", x_te), ("train", None)):
            fin = predict_fn(t=np.array(FINITE_TIMES), x_test=xt, get=g,
                             compute_cov=True)
            inf = predict_fn(t=None, x_test=xt, get=g, compute_cov=True)
            mean = np.concatenate([np.asarray(fin.mean), np.asarray(inf.mean)[None]], 0)
            cov = np.concatenate([np.asarray(fin.covariance),
                                  np.asarray(inf.covariance)[None]], 0)
            assert mean.shape == (len(TIMES), n_tr if xt is None else n_te, k), mean.shape
            preds[g][split] = {"mean": mean, "cov": cov}

    # Effective diag_reg (relative scale) on the regime's train-train kernel.
    g_dd = {"ntk": k_ntk[:n_tr, :n_tr], "nngp": k_nngp[:n_tr, :n_tr]}
    diag_eff = {g: c["diag_reg"] * float(np.trace(g_dd[g])) / n_tr for g in REGIMES}

    checks = []
    derived = {"noise_vars": NOISE_VARS, "ln_M": math.log(n_tr + n_te)}
    for g in REGIMES:
        te, tr = preds[g]["test"], preds[g]["train"]
        sig0 = te["cov"][0]
        dg = {"kl_to_prior": [], "gibbs_loglik": [], "bayes_loglik": [],
              "ixz": {str(s2): {"lower": [], "upper": [], "exact": []}
                      for s2 in NOISE_VARS}}
        for ti in range(len(TIMES)):
            mu, sig = te["mean"][ti], te["cov"][ti]
            dg["kl_to_prior"].append(kl_to_prior(mu, sig, sig0))
            gl = gibbs_loglik(y_te, mu, sig)
            bl = bayes_loglik(y_te, mu, sig)
            dg["gibbs_loglik"].append(gl)
            dg["bayes_loglik"].append(bl)
            if not bl >= gl - 1e-12:
                checks.append(f"FAIL bayes>=gibbs {g} t={TIMES[ti]}")
            m_pts = np.concatenate([tr["mean"][ti], mu], axis=0)
            v_raw = np.concatenate([np.diag(tr["cov"][ti]), np.diag(sig)])
            for s2 in NOISE_VARS:
                v = np.maximum(v_raw, 0.0) + s2
                lo, up = kt_bounds(m_pts, v)
                ex = exact_ixz_1d(m_pts, v) if k == 1 else None
                e = dg["ixz"][str(s2)]
                e["lower"].append(lo)
                e["upper"].append(up)
                e["exact"].append(ex)
                tol = 1e-9
                ok = (-tol <= lo <= up + tol and up <= derived["ln_M"] + tol and
                      (ex is None or lo - tol <= ex <= up + tol))
                if not ok:
                    checks.append(f"FAIL bracket {g} t={TIMES[ti]} s2={s2}: "
                                  f"{lo} {ex} {up}")
        derived[g] = dg
    if not checks:
        checks.append("ok: 0 <= lower <= exact <= upper <= ln_M (tol 1e-9) and "
                      "bayes >= gibbs at every (regime, t, noise_var)")
    # t=0 sanity: mean 0 and cov = NNGP K_** / K_XX
    for g in REGIMES:
        d0 = max(float(np.max(np.abs(preds[g][s]["mean"][0]))) for s in ("test", "train"))
        kte = k_nngp[n_tr:, n_tr:]
        dc = float(np.max(np.abs(preds[g]["test"]["cov"][0] - kte)))
        checks.append(f"{g}: max|mean(t=0)| = {d0:.3g}, "
                      f"max|cov_test(t=0) - kernels.nngp[test,test]| = {dc:.3g}")

    out = {
        "schema_version": SCHEMA_VERSION,
        "name": c["name"],
        "note": c["note"],
        "architecture": {
            "nonlinearity": c["nonlinearity"],
            "depth": c["depth"],
            "W_std": c["W_std"],
            "b_std": c["b_std"],
            "parameterization": "ntk",
            "hidden_width": HIDDEN_WIDTH,
            "n_outputs": k,
            "erf": {"a": 1.0, "b": 1.0, "c": 0.0} if c["nonlinearity"] == "erf" else None,
            "stax": desc,
        },
        "inputs": {
            "dataset": ds["name"],
            "seed": ds["seed"],
            "d_in": ds["d_in"],
            "n_train": n_tr,
            "n_test": n_te,
            "notes": ds["notes"],
            "duplicates": ds["duplicates"],
            "x_train": f64(x_tr),
            "x_test": f64(x_te),
            "y_train": f64(y_tr),
            "y_test": f64(y_te),
        },
        "kernels": {"order": "x_train then x_test", "nngp": f64(k_nngp), "ntk": f64(k_ntk)},
        "trace_ntk_train": float(np.trace(k_ntk[:n_tr, :n_tr])),
        "training": {
            "learning_rate": LEARNING_RATE,
            "n": int(y_tr.size),
            "diag_reg": c["diag_reg"],
            "diag_reg_absolute_scale": False,
            "diag_reg_effective": diag_eff,
        },
        "times": TIMES,
        "predictions": {g: {s: {"mean": f64(preds[g][s]["mean"]),
                                "cov": f64(preds[g][s]["cov"])}
                            for s in ("test", "train")} for g in REGIMES},
        "derived": {
            "noise_vars": NOISE_VARS,
            "ln_M": derived["ln_M"],
            **{g: {
                "kl_to_prior": [None if v is None else float(v)
                                for v in derived[g]["kl_to_prior"]],
                "gibbs_loglik": f64(derived[g]["gibbs_loglik"]),
                "bayes_loglik": f64(derived[g]["bayes_loglik"]),
                "ixz": {s2: {"lower": f64(e["lower"]), "upper": f64(e["upper"]),
                             "exact": [None if x is None else float(x) for x in e["exact"]]}
                        for s2, e in derived[g]["ixz"].items()},
            } for g in REGIMES},
        },
        "self_checks": checks,
        "provenance": prov,
    }
    return out, checks


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out-dir", default=os.path.dirname(os.path.abspath(__file__)))
    args = ap.parse_args()
    prov = provenance(args)
    os.makedirs(args.out_dir, exist_ok=True)
    index = {"schema_version": SCHEMA_VERSION, "cases": [], "provenance": prov}
    failed = False
    for c in CASES:
        out, checks = run_case(c, prov)
        fn = c["name"] + ".json"
        text = json.dumps(out, allow_nan=False, separators=(",", ":"))
        with open(os.path.join(args.out_dir, fn), "w") as fh:
            fh.write(text + "\n")
        index["cases"].append({"name": c["name"], "file": fn,
                               "nonlinearity": c["nonlinearity"],
                               "depth": c["depth"], "W_std": c["W_std"],
                               "b_std": c["b_std"], "diag_reg": c["diag_reg"],
                               "dataset": c["dataset"], "note": c["note"]})
        bad = [x for x in checks if x.startswith("FAIL")]
        failed |= bool(bad)
        print(f"{fn}: {len(text)} bytes; " + ("; ".join(bad) if bad else "checks ok"))
    with open(os.path.join(args.out_dir, "index.json"), "w") as fh:
        fh.write(json.dumps(index, allow_nan=False, indent=1) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
