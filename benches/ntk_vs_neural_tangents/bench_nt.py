#!/usr/bin/env python3
"""Time neural-tangents (CPU, float64) on the workload ibex's NTK bench mirrors.

Workload (one "run"):
  * FC network stax.serial([Dense(512, 1.5, 0.1), Relu()] * 3, Dense(1, 1.5, 0.1)),
    NTK parameterisation, analytic kernel_fn (not jitted: the library default);
  * 1000 training and 200 test points, d_in = 10, x ~ N(0, I) from
    numpy default_rng(12345), y = sin(x_0) + 0.5 x_1 x_2 + 0.1 eps;
  * predict_fn = nt.predict.gradient_descent_mse_ensemble(kernel_fn, x_train,
    y_train, learning_rate=1, diag_reg=0) built fresh (so nothing is cached
    between runs), then mean + covariance in the NTK regime for
    t in [1, 10] (one eigendecomposition) and t = None (inf, Cholesky),
    for x_test = test points and for x_test = None (train).
    This includes every kernel evaluation: train-train (nngp+ntk),
    test-train (nngp+ntk), test-test (nngp).
Timing: one warm-up run, then --repeats (default 3) timed runs; the median
wall time is reported. A kernels-only timing (kernel_fn(x_all, None,
('nngp','ntk')) on the 1200 points) is reported the same way.
Output: one JSON object on stdout.

    /root/venvs/nt/bin/python benches/ntk_vs_neural_tangents/bench_nt.py
"""

import argparse
import datetime
import importlib.metadata
import json
import os
import platform
import statistics
import sys
import time

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)

import neural_tangents as nt  # noqa: E402
from neural_tangents import stax  # noqa: E402


def cpu_model():
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def make_data(n_train, n_test, d_in, seed):
    rng = np.random.default_rng(seed)
    x_train = rng.normal(size=(n_train, d_in))
    x_test = rng.normal(size=(n_test, d_in))
    f = lambda x: np.sin(x[:, 0]) + 0.5 * x[:, 1] * x[:, 2]  # noqa: E731
    y_train = (f(x_train) + 0.1 * rng.normal(size=n_train))[:, None]
    return x_train, x_test, y_train


def network(depth, w_std, b_std):
    layers = []
    for _ in range(depth):
        layers += [stax.Dense(512, W_std=w_std, b_std=b_std), stax.Relu()]
    layers.append(stax.Dense(1, W_std=w_std, b_std=b_std))
    return stax.serial(*layers)[2]


def block(tree):
    for leaf in jax.tree_util.tree_leaves(tree):
        if hasattr(leaf, "block_until_ready"):
            leaf.block_until_ready()
    return tree


def one_run(kernel_fn, x_train, x_test, y_train):
    predict_fn = nt.predict.gradient_descent_mse_ensemble(
        kernel_fn, x_train, y_train, learning_rate=1.0, diag_reg=0.0)
    ts = np.array([1.0, 10.0])
    out = []
    for xt in (x_test, None):
        out.append(block(predict_fn(t=ts, x_test=xt, get="ntk", compute_cov=True)))
        out.append(block(predict_fn(t=None, x_test=xt, get="ntk", compute_cov=True)))
    return out


def timed(fn, repeats):
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n-train", type=int, default=1000)
    ap.add_argument("--n-test", type=int, default=200)
    ap.add_argument("--d-in", type=int, default=10)
    ap.add_argument("--depth", type=int, default=3)
    ap.add_argument("--w-std", type=float, default=1.5)
    ap.add_argument("--b-std", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=12345)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--dump-data", metavar="PATH",
                    help="also write x_train, x_test, y_train as JSON to PATH "
                         "(for running ibex on the identical inputs)")
    args = ap.parse_args()

    x_train, x_test, y_train = make_data(args.n_train, args.n_test, args.d_in, args.seed)
    if args.dump_data:
        with open(args.dump_data, "w") as fh:
            json.dump({"seed": args.seed, "x_train": x_train.tolist(),
                       "x_test": x_test.tolist(), "y_train": y_train.tolist()}, fh)
    kernel_fn = network(args.depth, args.w_std, args.b_std)
    x_all = np.concatenate([x_train, x_test])

    t_full = timed(lambda: one_run(kernel_fn, x_train, x_test, y_train), args.repeats)
    t_kern = timed(lambda: block(kernel_fn(x_all, None, ("nngp", "ntk"))), args.repeats)

    res = one_run(kernel_fn, x_train, x_test, y_train)
    test_fin, test_inf, train_fin, train_inf = res
    summary = {
        "test_mean_t1_first3": np.asarray(test_fin.mean)[0, :3, 0].tolist(),
        "test_var_tinf_first3": np.diag(np.asarray(test_inf.covariance))[:3].tolist(),
        "train_mean_t10_first3": np.asarray(train_fin.mean)[1, :3, 0].tolist(),
    }
    versions = {}
    for p in ("neural-tangents", "jax", "jaxlib", "numpy", "scipy", "tensorflow", "tf2jax"):
        try:
            versions[p] = importlib.metadata.version(p)
        except importlib.metadata.PackageNotFoundError:
            versions[p] = None
    out = {
        "benchmark": "neural-tangents kernels + gradient_descent_mse_ensemble (ntk regime)",
        "workload": {
            "n_train": args.n_train, "n_test": args.n_test, "d_in": args.d_in,
            "depth": args.depth, "nonlinearity": "relu", "W_std": args.w_std,
            "b_std": args.b_std, "seed": args.seed, "dtype": "float64",
            "times": [1.0, 10.0, None], "splits": ["test", "train"],
            "compute_cov": True, "diag_reg": 0.0, "kernel_fn_jitted": False,
        },
        "repeats": args.repeats,
        "warmup_runs": 1,
        "full_wall_s": {"median": statistics.median(t_full), "all": t_full},
        "kernels_only_wall_s": {"median": statistics.median(t_kern), "all": t_kern,
                                "what": "kernel_fn(x_all[1200], None, ('nngp','ntk'))"},
        "result_fingerprint": summary,
        "machine": {
            "nproc": os.cpu_count(),
            "cpu_model": cpu_model(),
            "loadavg_after": os.getloadavg(),
            "platform": platform.platform(),
            "jax_backend": jax.default_backend(),
            "jax_devices": [str(d) for d in jax.devices()],
        },
        "versions": versions,
        "python": sys.version.split()[0],
        "command": [sys.executable] + sys.argv,
        "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
