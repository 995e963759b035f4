#!/usr/bin/env python3
"""Compare `ibex solve` / `ibex anneal` with embo and dit, the Python IB tools in use today.

Accuracy (I(X;T), I(T;Y) in bits, and the IB Lagrangian) and wall time, on the same joints
at the same beta, with beta converted to each tool's convention:

    ibex : minimises  I(X;T) - beta I(T;Y)                          (natural logs)
    embo : beta_embo = beta * ln 2   (embo's update mixes ln p(t) with a KL in bits)
    dit  : beta_dit  = beta          (I(X;T) - beta I(T;Y), everything in bits)

See README.md beside this file for the source-code evidence and the caveats.

Run with the venv from setup.sh:
    /root/venvs/cmp/bin/python benches/compare_python/compare_solve.py            # solve mode
    /root/venvs/cmp/bin/python benches/compare_python/compare_solve.py --sweep    # 50-beta curves
"""

import argparse
import datetime as _dt
import json
import math
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
LN2 = math.log(2.0)


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="*", help="dense CSV joints (default: all of make_joints.sh's output)")
    ap.add_argument("--joints-dir", help="use the CSVs in this directory (default: run make_joints.sh into a temp dir)")
    ap.add_argument("--ibex", default=os.environ.get("IBEX") or os.path.join(ROOT, "target", "release", "ibex"),
                    help="ibex binary (default: $IBEX, else target/release/ibex); pass a frozen copy so that a "
                         "rebuild during the run does not mix two builds")
    ap.add_argument("--betas", default="2,5,20,100", help="betas in ibex's convention (solve mode)")
    ap.add_argument("--clusters", type=int, default=0,
                    help="|T| for every tool; 0 (default) = |X|, which is embo's default and dit's")
    ap.add_argument("--repeats", type=int, default=3, help="timed runs per tool and point; the median is reported")
    ap.add_argument("--seed", type=int, default=1, help="seed for numpy's global RNG (embo, dit) and ibex --seed")
    ap.add_argument("--tol", type=float, default=1e-10, help="ibex solve --tol")
    ap.add_argument("--max-iter", type=int, default=0, help="ibex solve --max-iter (0 = ibex's default)")
    ap.add_argument("--ibex-extra", default="", help="extra arguments for every ibex solve run")
    ap.add_argument("--ibex-variants", default="ibex-r3=--restarts 3;ibex-random=--init random",
                    help="extra ibex rows besides `ibex` (its defaults: the identity start, and the single-cluster "
                         "solution compared), as 'name=args;name=args' ('' for none). Default: --restarts 3 "
                         "(3 random starts beside the identity one, embo's restart count; timed --tight-repeats "
                         "times) and --init random (one random start instead of the identity; ibex's default "
                         "before c32bacf, for reference)")
    ap.add_argument("--embo-restarts", type=int, default=3, help="embo default: 3")
    ap.add_argument("--embo-iter", type=int, default=100, help="embo default: 100")
    ap.add_argument("--embo-rtol", type=float, default=1e-3, help="embo default: 1e-3 (relative change of the cost)")
    ap.add_argument("--no-embo-tight", action="store_true", help="skip the second embo run with a tight stopping rule")
    ap.add_argument("--embo-tight-rtol", type=float, default=1e-10)
    ap.add_argument("--embo-tight-iter", type=int, default=10000)
    ap.add_argument("--tight-repeats", type=int, default=1, help="timed runs for embo-tight (slow on big joints)")
    ap.add_argument("--no-dit", action="store_true")
    ap.add_argument("--dit-max-nx", type=int, default=4,
                    help="run dit only on joints with |X| <= this (its scipy optimiser has |X|*|T| unknowns "
                         "and basin hopping; its BA loops over |X|*|T| KLs in Python with 250 restarts)")
    ap.add_argument("--threads", type=int, default=1,
                    help="threads for BLAS (numpy) and for ibex (RAYON_NUM_THREADS); default 1")
    ap.add_argument("--keep-openblas-env", action="store_true",
                    help="keep OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE (by default they are unset so that numpy "
                         "runs its native kernel)")
    ap.add_argument("--json", dest="json_out", help="results file (default: results/<mode>_<date>.json)")
    ap.add_argument("--no-save", action="store_true", help="do not write a results file")
    # sweep mode
    ap.add_argument("--sweep", action="store_true", help="curve mode (issue 4): embo over 50 log-spaced betas vs ibex anneal")
    ap.add_argument("--sweep-min", type=float, default=0.1)
    ap.add_argument("--sweep-max", type=float, default=1000.0)
    ap.add_argument("--sweep-num", type=int, default=50)
    ap.add_argument("--sweep-repeats", type=int, default=1, help="timed repetitions of each whole sweep")
    ap.add_argument("--embo-public", action="store_true",
                    help="sweep: also time embo's public API (InformationBottleneck(pxy=...).get_bottleneck()), "
                         "which only takes a linearly spaced beta grid")
    ap.add_argument("--anneal-args",
                    default="{file} --beta-min {bmin} --beta-max {bmax} --num-betas {n} --format json",
                    help="arguments of `ibex anneal` (placeholders {file} {bmin} {bmax} {n} {betas} {betas_file} "
                         "{clusters} {seed}); adjust once the command exists")
    return ap.parse_args(argv)


ARGS = parse_args()

# --- environment: single-threaded BLAS, native OpenBLAS kernel -----------------------------------
if not ARGS.keep_openblas_env and ("OPENBLAS_CORETYPE" in os.environ or "OPENBLAS_L2_SIZE" in os.environ):
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    os.execve(sys.executable, [sys.executable] + sys.argv, env)
for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_v] = str(ARGS.threads)
os.environ["DIT_OPT_JOBS"] = "1"  # dit's restarts run serially (no thread pool)

import warnings  # noqa: E402

import numpy as np  # noqa: E402

warnings.filterwarnings("ignore")
import embo  # noqa: E402
import embo.core as embo_core  # noqa: E402
from embo import InformationBottleneck as EmboIB  # noqa: E402
from embo.utils import compute_upper_bound as embo_upper_bound  # noqa: E402

import dit  # noqa: E402
from dit.rate_distortion import InformationBottleneck as DitIB  # noqa: E402
from dit.rate_distortion.blahut_arimoto import blahut_arimoto_ib as dit_ba_ib  # noqa: E402

np.seterr(all="ignore")  # embo does this too, at import


# --- small helpers ------------------------------------------------------------------------------
def load_csv(path):
    rows = []
    with open(path) as fh:
        for line in fh:
            s = line.split("#", 1)[0].strip()
            if s:
                rows.append([float(v) for v in s.split(",")])
    p = np.array(rows, dtype=float)
    return p / p.sum()


def mi_bits(joint):
    joint = np.asarray(joint, dtype=float)
    a = joint.sum(axis=1, keepdims=True)
    b = joint.sum(axis=0, keepdims=True)
    with np.errstate(all="ignore"):
        t = joint * np.log2(joint / (a * b))
    return float(np.nansum(np.where(joint > 0, t, 0.0)))


def h2(q):
    if q <= 0.0 or q >= 1.0:
        return 0.0
    return -q * math.log2(q) - (1 - q) * math.log2(1 - q)


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def timed(fn, repeats):
    """Run fn() `repeats` times; return (first result, wall times in s)."""
    out, times = None, []
    for r in range(max(1, repeats)):
        t0 = time.perf_counter()
        res = fn()
        times.append(time.perf_counter() - t0)
        if r == 0:
            out = res
    return out, times


def sh(cmd, **kw):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, **kw)
    except OSError as e:  # missing binary
        return subprocess.CompletedProcess(cmd, 127, "", str(e))


def machine_facts():
    facts = {"date_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
             "nproc": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
             "loadavg_start": os.getloadavg()}
    try:
        # GNU nproc honours OMP_NUM_THREADS, which this script sets: ask without it
        env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OMP_THREAD_LIMIT")}
        facts["nproc_cmd"] = int(sh(["nproc"], env=env).stdout.strip())
    except ValueError:
        pass
    try:
        info = open("/proc/cpuinfo").read().splitlines()
        for key in ("model name", "cpu MHz", "cache size"):
            for line in info:
                if line.startswith(key):
                    facts["cpu_" + key.replace(" ", "_").lower()] = line.split(":", 1)[1].strip()
                    break
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                facts["mem_total"] = line.split(":", 1)[1].strip()
    except OSError:
        pass
    try:
        import threadpoolctl
        np.ones((64, 64)) @ np.ones((64, 64))
        facts["blas"] = [{k: d.get(k) for k in ("internal_api", "version", "architecture", "num_threads")}
                         for d in threadpoolctl.threadpool_info()]
    except Exception as e:  # pragma: no cover
        facts["blas"] = repr(e)
    facts["env"] = {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OPENBLAS_CORETYPE",
                                                   "OPENBLAS_L2_SIZE", "DIT_OPT_JOBS")}
    return facts


def versions(ibex):
    import importlib.metadata as md
    v = {k: md.version(k) for k in ("embo", "dit", "numpy", "scipy")}
    r = sh([ibex, "--version"])
    v["ibex"] = r.stdout.strip() if r.returncode == 0 else None
    if v["ibex"]:
        import hashlib
        v["ibex_binary"] = {"path": ibex, "sha256": hashlib.sha256(open(ibex, "rb").read()).hexdigest(),
                            "mtime_utc": _dt.datetime.fromtimestamp(os.path.getmtime(ibex), _dt.timezone.utc)
                            .isoformat(timespec="seconds")}
    g = sh(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"])
    if g.returncode == 0:
        dirty = sh(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"]).stdout.strip()
        v["ibex_git"] = g.stdout.strip() + ("+dirty" if dirty else "")
    return v


def ibex_has(ibex, sub):
    return sh([ibex, sub, "--help"]).returncode == 0


# --- the tools ----------------------------------------------------------------------------------
_EMBO_ITERS = [0]
_orig_p_mx_c = embo_core.p_mx_c


def _counting_p_mx_c(*a, **k):  # one call per embo iteration; negligible overhead
    _EMBO_ITERS[0] += 1
    return _orig_p_mx_c(*a, **k)


embo_core.p_mx_c = _counting_p_mx_c


def run_embo(p, beta, k, restarts, iterations, rtol, seed):
    """One embo IB point, exactly as embo's IB() computes each beta of its grid (beta_iter),
    at beta_embo = beta * ln 2. Returns bits."""
    px, py = p.sum(axis=1), p.sum(axis=0)
    pyx_c = p.T / px
    np.random.seed(seed)
    _EMBO_ITERS[0] = 0
    ix, iy, hm, _ = EmboIB.beta_iter(1, beta * LN2, px, py, pyx_c, k, restarts, iterations, rtol)
    return {"i_xt_bits": float(ix), "i_ty_bits": float(iy), "h_t_bits": float(hm),
            "iterations_all_restarts": _EMBO_ITERS[0]}


def run_dit_sp(p, beta, k, seed):
    """dit's InformationBottleneck optimiser (scipy basin hopping), beta_dit = beta."""
    np.random.seed(seed)
    d = dit.Distribution.from_ndarray(p)
    c, r = DitIB.functional()(d, beta, bound=k)
    return {"i_xt_bits": float(c), "i_ty_bits": float(r)}


def run_dit_ba(p, beta, seed):
    """dit's blahut_arimoto_ib (what IBCurve(method='ba') calls), beta_dit = beta, |T| = |X|."""
    np.random.seed(seed)
    rd, q_xyt = dit_ba_ib(p, beta)
    return {"i_xt_bits": mi_bits(q_xyt.sum(axis=1)), "i_ty_bits": mi_bits(q_xyt.sum(axis=0).T),
            "reported_rate_bits": float(rd.rate), "reported_distortion_bits": float(rd.distortion)}


TIME_KEYS = ("time", "elapsed", "seconds", "wall", "duration")


def find_self_time(obj):
    """A run time that ibex reports about itself, if its JSON has one (in seconds)."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            kl = k.lower()
            if isinstance(v, (int, float)) and any(t in kl for t in TIME_KEYS):
                if kl.endswith("_ms"):
                    return v / 1e3, k
                if kl.endswith("_us"):
                    return v / 1e6, k
                return float(v), k
        for v in obj.values():
            r = find_self_time(v)
            if r:
                return r
    return None


def ibex_env():
    env = dict(os.environ)
    env["RAYON_NUM_THREADS"] = str(ARGS.threads)
    return env


def run_ibex_solve(ibex, path, beta, k, repeats, extra=()):
    cmd = [ibex, "solve", path, "--beta", repr(float(beta)), "--method", "ib", "--clusters", str(k),
           "--tol", repr(ARGS.tol), "--seed", str(ARGS.seed), "--format", "json"] + list(extra)
    if ARGS.max_iter:
        cmd += ["--max-iter", str(ARGS.max_iter)]
    cmd += shlex.split(ARGS.ibex_extra)
    times, out, selft = [], None, []
    for r in range(max(1, repeats)):
        t0 = time.perf_counter()
        res = sh(cmd, env=ibex_env())
        times.append(time.perf_counter() - t0)
        if res.returncode != 0:
            return {"error": (res.stderr.strip().splitlines() or ["exit %d" % res.returncode])[-1],
                    "cmd": " ".join(cmd)}, times
        js = json.loads(res.stdout)
        st = find_self_time(js)
        if st:
            selft.append(st[0])
        if r == 0:
            # keep the scalars; drop the encoder/decoder arrays (q_t, q_y_given_t, ...)
            out = {kk: vv for kk, vv in js.items() if not isinstance(vv, list) or kk == "warnings"}
    row = {"i_xt_bits": float(out["i_xt_bits"]), "i_ty_bits": float(out["i_ty_bits"]), "json": out,
           "cmd": " ".join(cmd),
           # of the winning start (ibex reports no total over its starts); `start` names it
           # (e.g. "identity", "random seed 2", "single cluster"); older builds had `seed` instead
           "ibex_iterations": out.get("iterations"), "ibex_termination": out.get("termination"),
           "ibex_start": out.get("start", f"seed {out['seed']}" if "seed" in out else None),
           "ibex_clusters_used": out.get("clusters")}
    if selft:
        row["self_time_s_median"] = median(selft)
    return row, times


def ibex_variants():
    out = []
    for part in ARGS.ibex_variants.split(";"):
        if part.strip():
            name, _, a = part.partition("=")
            out.append((name.strip(), shlex.split(a)))
    return out


def process_start_time(ibex, n=5):
    ts = []
    for _ in range(n):
        t0 = time.perf_counter()
        sh([ibex, "--version"])
        ts.append(time.perf_counter() - t0)
    return median(ts)


# --- DSBS closed form ---------------------------------------------------------------------------
def dsbs_crossover(p):
    """e if p is a doubly symmetric binary source [[(1-e)/2, e/2], [e/2, (1-e)/2]], else None."""
    if p.shape != (2, 2):
        return None
    a, b = p[0, 0], p[0, 1]
    if abs(p[1, 1] - a) < 1e-12 and abs(p[1, 0] - b) < 1e-12 and abs(a + b - 0.5) < 1e-12:
        return 2 * b
    return None


def dsbs_curve_iy(e, ix):
    """The IB curve of the DSBS (Mrs Gerber's lemma, T = X xor Bern(q)): I(T;Y) = 1 - h(e * h^-1(1 - I(X;T)))."""
    ix = min(max(ix, 0.0), 1.0)
    target = 1.0 - ix  # h(q) = target, q in [0, 1/2]
    lo, hi = 0.0, 0.5
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if h2(mid) < target:
            lo = mid
        else:
            hi = mid
    q = 0.5 * (lo + hi)
    return 1.0 - h2(e * (1 - q) + q * (1 - e))


def dsbs_optimum(e, beta):
    """Minimiser of I(X;T) - beta I(T;Y) over the DSBS curve: stationarity h'(q) = beta (1-2e) h'(e*q)."""
    def dh(q):
        return math.log2((1 - q) / q)

    def g(q):
        eq = e * (1 - q) + q * (1 - e)
        return dh(q) - beta * (1 - 2 * e) * dh(eq)

    beta_c = 1.0 / (1 - 2 * e) ** 2
    if beta <= beta_c:
        return {"i_xt_bits": 0.0, "i_ty_bits": 0.0, "q": 0.5}
    lo, hi = 1e-300, 0.5 * (1 - 1e-12)
    if g(hi) > 0:  # numerically at the critical point
        return {"i_xt_bits": 0.0, "i_ty_bits": 0.0, "q": 0.5}
    for _ in range(2000):
        mid = math.sqrt(lo * hi) if hi / lo > 4 else 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        if g(mid) > 0:
            lo = mid
        else:
            hi = mid
    q = 0.5 * (lo + hi)
    eq = e * (1 - q) + q * (1 - e)
    return {"i_xt_bits": 1 - h2(q), "i_ty_bits": 1 - h2(eq), "q": q}


# --- formatting ---------------------------------------------------------------------------------
def fnum(x, w=12, prec=8):
    if x is None:
        return " " * (w - 1) + "-"
    if isinstance(x, float) and math.isnan(x):
        return " " * (w - 3) + "nan"
    return f"{x:{w}.{prec}f}"


def fexp(x, w=10):
    if x is None:
        return " " * (w - 1) + "-"
    if isinstance(x, float) and math.isnan(x):
        return " " * (w - 3) + "nan"
    return f"{x:{w}.1e}"


def fratio(x, w=9):
    if x is None:
        return " " * (w - 1) + "-"
    return f"{x:{w}.3g}"


def joint_files():
    if ARGS.files:
        return [os.path.abspath(f) for f in ARGS.files], None
    d = ARGS.joints_dir
    if not d:
        d = tempfile.mkdtemp(prefix="ibex_cmp_joints.")
        r = sh(["bash", os.path.join(HERE, "make_joints.sh"), d], env=dict(os.environ, IBEX=ARGS.ibex))
        if r.returncode != 0:
            sys.exit("make_joints.sh failed: " + r.stderr)
        if r.stderr.strip():
            print(r.stderr.strip(), file=sys.stderr)
    return sorted(os.path.join(d, f) for f in os.listdir(d) if f.endswith(".csv")), d


def default_json_path(mode):
    day = _dt.date.today().isoformat()
    return os.path.join(HERE, "results", f"{mode}_{day}.json")


def save(mode, payload):
    if ARGS.no_save:
        return
    path = ARGS.json_out or default_json_path(mode)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as fh:
        json.dump(payload, fh, indent=1, default=float)
    print(f"\nresults written to {os.path.relpath(path, os.getcwd())}")


# --- solve mode ---------------------------------------------------------------------------------
def solve_mode():
    ibex = ARGS.ibex
    have_solve = ibex_has(ibex, "solve")
    facts, vers = machine_facts(), versions(ibex)
    files, jdir = joint_files()
    betas = [float(b) for b in ARGS.betas.split(",")]
    print(f"# ibex solve vs embo {vers['embo']} / dit {vers['dit']} (numpy {vers['numpy']}); "
          f"ibex: {vers['ibex'] or 'missing'}{'' if have_solve else ' (no `solve` command: ibex rows skipped)'}")
    print(f"# {facts.get('cpu_model_name')}, nproc {facts['nproc']}, BLAS {facts.get('blas')}, threads {ARGS.threads}")
    start = process_start_time(ibex) if vers["ibex"] else None
    if start is not None:
        print(f"# ibex process start (ibex --version, median of 5): {start * 1e3:.2f} ms")
    print("# beta is ibex's (I(X;T) - beta I(T;Y)); embo gets beta*ln2, dit gets beta. Informations in bits.")
    print(f"# embo: restarts {ARGS.embo_restarts}, iterations {ARGS.embo_iter}, rtol {ARGS.embo_rtol} (its defaults)"
          + ("" if ARGS.no_embo_tight else
             f"; embo-tight: rtol {ARGS.embo_tight_rtol}, iterations {ARGS.embo_tight_iter}")
          + f"; ibex: --tol {ARGS.tol} --seed {ARGS.seed} {ARGS.ibex_extra}".rstrip())
    print("# rows: ibex = `ibex solve` at its defaults (identity start; the single-cluster solution always compared)"
          + "".join(f"; {n} = ibex {' '.join(a)}" for n, a in ibex_variants()))
    print(f"# load average at start: {' '.join(f'{x:.2f}' for x in facts['loadavg_start'])}"
          " (printed again per joint; stored per point in the JSON)")
    print("# L = I(X;T) - beta I(T;Y) in bits (lower is better at equal |T|); d* = difference to the reference row"
          " (ibex when it ran, else the DSBS closed form, else the lowest L); t = median wall time, ibex's includes process start;"
          " *best L* marks the lowest L found by any tool (to 1e-9 relative).")
    rows = []
    hdr = (f"{'joint':24} {'beta':>6} {'tool':12} {'I(X;T)':>12} {'I(T;Y)':>12} {'dI(X;T)':>10} {'dI(T;Y)':>10} "
           f"{'L':>12} {'dL':>10} {'t (s)':>10} {'t/t_ibex':>9}  note")
    print(hdr)
    print("-" * len(hdr))
    facts["loadavg_samples"] = []
    for path in files:
        name = os.path.splitext(os.path.basename(path))[0]
        p = load_csv(path)
        k = ARGS.clusters or p.shape[0]
        e = dsbs_crossover(p)
        print(f"# {name}: load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
        for beta in betas:
            pts = []
            if have_solve:
                res, ts = run_ibex_solve(ibex, path, beta, k, ARGS.repeats)
                pts.append(("ibex", res, ts))
                for vname, vargs in ibex_variants():
                    reps = ARGS.tight_repeats if "--restarts" in vargs else ARGS.repeats
                    res, ts = run_ibex_solve(ibex, path, beta, k, reps, vargs)
                    pts.append((vname, res, ts))
            res, ts = timed(lambda: run_embo(p, beta, k, ARGS.embo_restarts, ARGS.embo_iter, ARGS.embo_rtol,
                                             ARGS.seed), ARGS.repeats)
            pts.append(("embo", res, ts))
            if not ARGS.no_embo_tight:
                res, ts = timed(lambda: run_embo(p, beta, k, ARGS.embo_restarts, ARGS.embo_tight_iter,
                                                 ARGS.embo_tight_rtol, ARGS.seed), ARGS.tight_repeats)
                pts.append(("embo-tight", res, ts))
            if not ARGS.no_dit and p.shape[0] <= ARGS.dit_max_nx:
                res, ts = timed(lambda: run_dit_sp(p, beta, k, ARGS.seed), ARGS.repeats)
                pts.append(("dit-sp", res, ts))
                res, ts = timed(lambda: run_dit_ba(p, beta, ARGS.seed), ARGS.repeats)
                pts.append(("dit-ba", res, ts))
            if e is not None:
                pts.append(("closed-form", dsbs_optimum(e, beta), None))
            load = os.getloadavg()
            facts["loadavg_samples"].append({"joint": name, "beta": beta, "loadavg": load})
            for _, res, _ in pts:
                res["loadavg_after_point"] = load
                if "i_xt_bits" in res:
                    res["L_bits"] = res["i_xt_bits"] - beta * res["i_ty_bits"]
                    if e is not None:
                        res["dsbs_gap_i_ty_bits"] = res["i_ty_bits"] - dsbs_curve_iy(e, res["i_xt_bits"])
            # reference: ibex if it ran, else the closed form (DSBS), else the lowest Lagrangian
            ok = [(t, r) for t, r, _ in pts if "L_bits" in r and not math.isnan(r["L_bits"])]
            ref = (next(((t, r) for t, r in ok if t == "ibex"), None)
                   or next(((t, r) for t, r in ok if t == "closed-form"), None)
                   or (min(ok, key=lambda tr: tr[1]["L_bits"]) if ok else None))
            t_ibex = median(next((ts for t, _, ts in pts if t == "ibex"), []) or [None])
            lmin = min((r["L_bits"] for t, r in ok if t != "closed-form"), default=None)
            for tool, res, ts in pts:
                tmed = median(ts) if ts else None
                row = {"joint": name, "shape": list(p.shape), "clusters": k, "beta": beta, "tool": tool,
                       "beta_tool": beta * LN2 if tool.startswith("embo") else beta,
                       "times_s": ts, "time_median_s": tmed, "reference": ref[0] if ref else None}
                row.update({kk: vv for kk, vv in res.items()})
                note = ""
                if "error" in res:
                    note = "error: " + res["error"]
                    print(f"{name:24} {beta:6g} {tool:12} {note}")
                    rows.append(row)
                    continue
                if ref and tool != ref[0]:
                    row["d_i_xt_bits"] = res["i_xt_bits"] - ref[1]["i_xt_bits"]
                    row["d_i_ty_bits"] = res["i_ty_bits"] - ref[1]["i_ty_bits"]
                    row["d_L_bits"] = res["L_bits"] - ref[1]["L_bits"]
                if tmed is not None and t_ibex:
                    row["time_ratio_vs_ibex"] = tmed / t_ibex
                if "self_time_s_median" in res:
                    note += f"self {res['self_time_s_median']:.3g}s "
                if ref and tool == ref[0]:
                    note += "(reference) "
                if lmin is not None and tool != "closed-form" and res["L_bits"] <= lmin + 1e-9 * max(1, abs(lmin)):
                    note += "*best L* "
                    row["best_L"] = True
                if tool.startswith("ibex"):
                    j = res["json"]
                    note += (f"{res.get('ibex_termination', '')} it={res.get('ibex_iterations', '')} "
                             f"T={j.get('clusters', '')} start={res.get('ibex_start', '')}")
                if tool.startswith("embo"):
                    note += f"iters(all restarts)={res['iterations_all_restarts']}"
                if tool == "dit-ba":
                    note += f"own rate {res['reported_rate_bits']:.3g}, dist {res['reported_distortion_bits']:.3g}"
                if "dsbs_gap_i_ty_bits" in res and tool != "closed-form":
                    note += f" gap-to-curve {res['dsbs_gap_i_ty_bits']:.1e}"
                print(f"{name:24} {beta:6g} {tool:12} {fnum(res['i_xt_bits'])} {fnum(res['i_ty_bits'])} "
                      f"{fexp(row.get('d_i_xt_bits'))} {fexp(row.get('d_i_ty_bits'))} {fnum(res['L_bits'])} "
                      f"{fexp(row.get('d_L_bits'))} {fnum(tmed, 10, 4)} {fratio(row.get('time_ratio_vs_ibex'))}"
                      f"  {note.strip()}", flush=True)
                rows.append(row)
        print()
    facts["loadavg_end"] = os.getloadavg()
    if vers.get("ibex_binary") and versions(ibex).get("ibex_binary", {}).get("sha256") != vers["ibex_binary"]["sha256"]:
        print("WARNING: the ibex binary changed during the run", file=sys.stderr)
        vers["ibex_binary_changed_during_run"] = True
    md = summary_markdown(rows)
    la = [x["loadavg"][0] for x in facts["loadavg_samples"]]
    print("\n## summary (markdown)\n")
    print(md)
    if la:
        print(f"\n1-minute load average over the run: {min(la):.2f} to {max(la):.2f} "
              f"(median {statistics.median(la):.2f}; start {facts['loadavg_start'][0]:.2f}, "
              f"end {facts['loadavg_end'][0]:.2f})")
    save("solve", {"mode": "solve", "machine": facts, "versions": vers, "ibex_has_solve": have_solve,
                   "ibex_process_start_s": start, "joints_dir": jdir, "files": files,
                   "settings": {k: v for k, v in vars(ARGS).items()}, "rows": rows, "summary_markdown": md})


def _short_start(st):
    if not st:
        return ""
    return {"identity": "id", "single cluster": "1cl"}.get(st, st.replace("random seed ", "r"))


def summary_markdown(rows):
    """Two markdown tables: dL = L - (lowest L of any tool) per tool, and times, embo/ibex ratios and
    ibex's iterations/termination/winning start (`it term start`; id = identity, 1cl = single cluster,
    rN = random seed N)."""
    tools, pts = [], {}
    for r in rows:
        if r["tool"] not in tools:
            tools.append(r["tool"])
        pts.setdefault((r["joint"], r["beta"]), {})[r["tool"]] = r
    solvers = [t for t in tools if t not in ("closed-form", "dit-ba")]
    ibexes = [t for t in solvers if t.startswith("ibex")]
    timed_tools = [t for t in solvers if t.startswith("ibex") or t.startswith("embo")]

    def lval(r):
        return r.get("L_bits") if r and "L_bits" in r and not math.isnan(r["L_bits"]) else None

    def dl(v, lmin):
        if v is None:
            return "-"
        d = v - lmin
        return "0" if d <= 1e-9 * max(1.0, abs(lmin)) else f"+{d:.1e}"

    def t(x):
        return "-" if x is None else f"{x:.3g}"

    a = ["| joint | beta | lowest L (bits) | " + " | ".join(solvers) + " |",
         "|---|---|---|" + "---|" * len(solvers)]
    b = ["| joint | beta | " + " | ".join("t " + x for x in timed_tools) + " | embo/ibex | embo-tight/ibex | "
         + " | ".join(x + " it term start" for x in ibexes) + " | load |",
         "|---|---|" + "---|" * (len(timed_tools) + 2 + len(ibexes) + 1)]
    for (joint, beta), d in pts.items():
        ls = [lval(d.get(x)) for x in solvers]
        ok = [v for v in ls if v is not None]
        if not ok:
            continue
        lmin = min(ok)
        lo = f"{lmin:.8f}"
        winner = next((d[x] for x in solvers if lval(d.get(x)) == lmin), None)
        if winner and abs(winner.get("i_xt_bits", 1)) < 1e-9:
            lo = "0 (trivial)"
        if "closed-form" in d:
            lo += f" (closed form {d['closed-form']['L_bits']:.8f})"
        cells = []
        for x, v in zip(solvers, ls):
            c = dl(v, lmin)
            if x == "ibex" and v is not None and v - lmin > 1e-4:
                c = f"**{c}**"
            cells.append(c)
        a.append(f"| {joint} | {beta:g} | {lo} | " + " | ".join(cells) + " |")
        tm = {x: (d[x].get("time_median_s") if x in d else None) for x in timed_tools}

        def ratio(x):
            return "-" if not tm.get(x) or not tm.get("ibex") else f"{tm[x] / tm['ibex']:.3g}"

        its = []
        for x in ibexes:
            r = d.get(x) or {}
            its.append(f"{r.get('ibex_iterations', '-')} {r.get('ibex_termination', '-')} "
                       f"{_short_start(r.get('ibex_start'))}".strip() if "ibex_iterations" in r else "-")
        load = next((r.get("loadavg_after_point") for r in d.values() if r.get("loadavg_after_point")), None)
        b.append(f"| {joint} | {beta:g} | " + " | ".join(t(tm[x]) for x in timed_tools)
                 + f" | {ratio('embo')} | {ratio('embo-tight')} | " + " | ".join(its)
                 + (f" | {load[0]:.2f} |" if load else " | - |"))
    return "\n".join(a) + "\n\n" + "\n".join(b)


# --- sweep mode ---------------------------------------------------------------------------------
def embo_sweep(p, betas, k):
    """embo at its defaults over an arbitrary beta list: its per-beta worker (beta_iter, what IB() maps
    over its process pool) for each beta, then its monotone-bound filter (compute_upper_bound), as IB()."""
    px, py = p.sum(axis=1), p.sum(axis=0)
    pyx_c = p.T / px
    np.random.seed(ARGS.seed)
    raw = []
    for b in betas:
        ix, iy, hm, _ = EmboIB.beta_iter(1, b * LN2, px, py, pyx_c, k, 3, 100, 1e-3)
        raw.append((float(ix), float(iy), float(hm)))
    ips, ifs = [r[0] for r in raw], [r[1] for r in raw]
    _, kept = embo_upper_bound(ips, ifs)
    return raw, [int(i) for i in kept]


def embo_public(p, bmin, bmax, n):
    """embo's public API, linear beta grid (the only grid it offers), in its own convention."""
    np.random.seed(ARGS.seed)
    ib = EmboIB(pxy=p.copy(), minbeta=bmin * LN2, maxbeta=bmax * LN2, numbeta=n, processes=1)
    ix, iy, hm, bs = ib.get_bottleneck()
    return {"i_xt_bits": list(map(float, ix)), "i_ty_bits": list(map(float, iy)),
            "beta_embo": list(map(float, bs)), "beta_ibex": [float(b) / LN2 for b in bs]}


def find_curve(obj):
    """The list of points in ibex anneal's JSON: dicts with a beta and the two informations."""
    if isinstance(obj, list) and obj and all(isinstance(x, dict) for x in obj) and \
            all("beta" in x and "i_xt_bits" in x and "i_ty_bits" in x for x in obj):
        return obj
    if isinstance(obj, dict):
        for v in obj.values():
            c = find_curve(v)
            if c:
                return c
    if isinstance(obj, list):
        for v in obj:
            c = find_curve(v)
            if c:
                return c
    return None


def run_ibex_anneal(ibex, path, betas, k):
    bfile = tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False)
    bfile.write("\n".join(repr(float(b)) for b in betas) + "\n")
    bfile.close()
    a = ARGS.anneal_args.format(file=path, bmin=repr(ARGS.sweep_min), bmax=repr(ARGS.sweep_max), n=len(betas),
                                betas=",".join(repr(float(b)) for b in betas), betas_file=bfile.name,
                                clusters=k, seed=ARGS.seed)
    cmd = [ibex, "anneal"] + shlex.split(a)
    times, out = [], None
    for r in range(max(1, ARGS.sweep_repeats)):
        t0 = time.perf_counter()
        res = sh(cmd, env=ibex_env())
        times.append(time.perf_counter() - t0)
        if res.returncode != 0:
            return {"error": (res.stderr.strip().splitlines() or ["exit %d" % res.returncode])[-1],
                    "cmd": " ".join(cmd)}, times
        if r == 0:
            out = json.loads(res.stdout)
    curve = find_curve(out)
    if curve is None:
        return {"error": "no list of {beta, i_xt_bits, i_ty_bits} points found in the JSON", "cmd": " ".join(cmd),
                "json_keys": list(out) if isinstance(out, dict) else type(out).__name__}, times
    st = find_self_time(out)
    return {"curve": curve, "cmd": " ".join(cmd), "self_time_s": st[0] if st else None}, times


def interp_curve(curve_pts, x):
    """I(T;Y) of a curve (list of (ix, iy)) at I(X;T) = x, by linear interpolation on the upper hull order."""
    pts = sorted(curve_pts)
    xs = [a for a, _ in pts]
    if not pts or x < xs[0] - 1e-12 or x > xs[-1] + 1e-12:
        return None
    return float(np.interp(x, xs, [b for _, b in pts]))


def sweep_mode():
    ibex = ARGS.ibex
    have_anneal = ibex_has(ibex, "anneal")
    facts, vers = machine_facts(), versions(ibex)
    betas = list(np.logspace(math.log10(ARGS.sweep_min), math.log10(ARGS.sweep_max), ARGS.sweep_num))
    if ARGS.files:
        files = [os.path.abspath(f) for f in ARGS.files]
    else:
        all_files, _ = joint_files()
        want = ["dirichlet_256x32_seed1", "gaussian_rho0.9_n100"]
        files = [f for f in all_files if os.path.splitext(os.path.basename(f))[0] in want]
        if len(files) < 2:
            print("note: the 256x32 Dirichlet / 100x100 Gaussian need `ibex gen`; falling back to the bundled "
                  "64x16 Dirichlet and 32x32 Gaussian", file=sys.stderr)
            fb = ["dirichlet_64x16_seed1", "gaussian_rho0.9_n32"]
            files = [f for f in all_files if os.path.splitext(os.path.basename(f))[0] in fb]
    print(f"# sweep: {len(betas)} log-spaced betas {ARGS.sweep_min:g}..{ARGS.sweep_max:g} (ibex convention); "
          f"embo {vers['embo']} at its defaults (|T|=|X|, 3 restarts, 100 iterations, rtol 1e-3), 1 thread; "
          f"ibex anneal: {'present' if have_anneal else 'MISSING (skipped)'}")
    print(f"# {facts.get('cpu_model_name')}, nproc {facts['nproc']}, BLAS {facts.get('blas')}")
    out = {"mode": "sweep", "machine": facts, "versions": vers, "betas_ibex": betas, "ibex_has_anneal": have_anneal,
           "settings": {k: v for k, v in vars(ARGS).items()}, "joints": []}
    for path in files:
        name = os.path.splitext(os.path.basename(path))[0]
        p = load_csv(path)
        k = ARGS.clusters or p.shape[0]
        (raw, kept), ts = timed(lambda: embo_sweep(p, betas, k), ARGS.sweep_repeats)
        jrec = {"joint": name, "shape": list(p.shape), "clusters": k,
                "embo": {"times_s": ts, "time_median_s": median(ts), "points": raw, "kept_by_upper_bound": kept,
                         "nan_points": sum(1 for r in raw if any(math.isnan(v) for v in r))}}
        if ARGS.embo_public:
            pub, tp = timed(lambda: embo_public(p, ARGS.sweep_min, ARGS.sweep_max, len(betas)), ARGS.sweep_repeats)
            jrec["embo_public_linear_grid"] = dict(pub, times_s=tp, time_median_s=median(tp))
        an = None
        if have_anneal:
            an, ta = run_ibex_anneal(ibex, path, betas, k)
            an["times_s"], an["time_median_s"] = ta, median(ta)
            jrec["ibex_anneal"] = an
        emb = jrec["embo"]
        print(f"\n## {name} {p.shape[0]}x{p.shape[1]}, |T| = {k}")
        print(f"embo: {emb['time_median_s']:.2f} s for {len(betas)} betas; {len(kept)} points kept by its monotone "
              f"filter, {emb['nan_points']} NaN")
        if "embo_public_linear_grid" in jrec:
            print(f"embo public API (linear grid): {jrec['embo_public_linear_grid']['time_median_s']:.2f} s")
        curve = None
        if an is not None:
            if "error" in an:
                print(f"ibex anneal: error: {an['error']}\n  cmd: {an['cmd']}")
            else:
                curve = an["curve"]
                print(f"ibex anneal: {an['time_median_s']:.3f} s wall ({len(curve)} points"
                      + (f", self-reported {an['self_time_s']:.3g} s" if an.get("self_time_s") else "")
                      + f"); embo/ibex time ratio {emb['time_median_s'] / an['time_median_s']:.1f}")
        hdr = f"{'beta':>10} {'embo I(X;T)':>12} {'embo I(T;Y)':>12} {'kept':>4}"
        if curve:
            hdr += f" {'ibex I(X;T)':>12} {'ibex I(T;Y)':>12} {'dI(X;T)':>10} {'dI(T;Y)':>10} {'gap@I(X;T)':>11}"
        print(hdr)
        cpts = [(float(c["i_xt_bits"]), float(c["i_ty_bits"])) for c in curve] if curve else []
        cb = np.array([float(c["beta"]) for c in curve]) if curve else None
        per = []
        for i, b in enumerate(betas):
            ix, iy, _ = raw[i]
            line = f"{b:10.4g} {fnum(ix)} {fnum(iy)} {'y' if i in kept else '':>4}"
            rec = {"beta": b, "embo_i_xt_bits": ix, "embo_i_ty_bits": iy, "kept": i in kept}
            if curve:
                j = int(np.argmin(np.abs(np.log(cb / b))))
                if abs(math.log(cb[j] / b)) < 1e-9:
                    bx, by = float(curve[j]["i_xt_bits"]), float(curve[j]["i_ty_bits"])
                else:  # ibex reported other betas: interpolate in log beta
                    order = np.argsort(cb)
                    lb = np.log(cb[order])
                    bx = float(np.interp(math.log(b), lb, [cpts[o][0] for o in order]))
                    by = float(np.interp(math.log(b), lb, [cpts[o][1] for o in order]))
                gap = interp_curve(cpts, ix)
                gap = None if gap is None or math.isnan(ix) else gap - iy
                rec.update({"ibex_i_xt_bits": bx, "ibex_i_ty_bits": by, "d_i_xt_bits": ix - bx,
                            "d_i_ty_bits": iy - by, "curve_gap_i_ty_bits": gap})
                line += (f" {fnum(bx)} {fnum(by)} {fexp(ix - bx)} {fexp(iy - by)} {fexp(gap, 11)}")
            per.append(rec)
            print(line)
        jrec["per_beta"] = per
        out["joints"].append(jrec)
    facts["loadavg_end"] = os.getloadavg()
    save("sweep", out)


if __name__ == "__main__":
    if not os.path.exists(ARGS.ibex):
        print(f"note: no ibex binary at {ARGS.ibex}: ibex rows are skipped", file=sys.stderr)
    sweep_mode() if ARGS.sweep else solve_mode()
