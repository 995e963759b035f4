//! Guards of `ibex ntk` against numerical trouble, each against an independent truth:
//! the exact I(X;Z), I(Z;Y) of near-delta and far-off mixtures (closed forms, affine
//! invariance, a hand derivation of the t = ∞ limit), the consistency check of exact
//! values against their proven bounds, eigenvalues at the ends of the exponent range,
//! overflowing kernels and targets, the cap on the number of times, and warnings about
//! many times said by their count and ends.

mod common;

use common::{csv_rows as csv, ntk_example as example, path_str as p, run_ibex as ibex};

use std::path::Path;

use ibex::error::Error;
use ibex::ntk::gaussian::{exact_information_1d, pairwise_bounds, Exact1d};
use ibex::ntk::kernel::{Activation, FcNetwork, Kernels};
use ibex::ntk::study::check_exact;
use ibex::scalar::{Mp128, Real};
use nalgebra::DMatrix;

/// −Σ_k (n_k/P) ln(n_k/P) of the group sizes in `labels`.
fn entropy_of_labels(labels: &[usize]) -> f64 {
    let p = labels.len() as f64;
    let groups = labels.iter().max().unwrap() + 1;
    (0..groups)
        .map(|g| labels.iter().filter(|&&l| l == g).count() as f64 / p)
        .filter(|q| *q > 0.0)
        .map(|q| -q * q.ln())
        .sum()
}

/// Clusters of identical near-delta components far apart: the posterior of X given Z is
/// uniform over the cluster Z falls in, so H(X | Z) = Σ_c (n_c/P) ln n_c and
/// H(Y | Z) = Σ_c (n_c/P) H(Y | cluster c). The old quadrature (one working-precision
/// z, nodes that could not sit inside a component of standard deviation 1e-150 at
/// mean 1) gave I(X;Z) far above ln P.
#[test]
fn near_delta_clusters_have_the_closed_form() {
    let means = [1.0, 1.0, 1.0, -1.0, -1.0];
    // Three labels: the cluster at 1 holds two of them (2:1), the one at -1 one.
    let labels = [0usize, 0, 1, 2, 2];
    let h_x_z = (3.0 * 3f64.ln() + 2.0 * 2f64.ln()) / 5.0;
    let h_y_z =
        3.0 / 5.0 * -((2.0f64 / 3.0) * (2.0f64 / 3.0).ln() + (1.0 / 3.0) * (1.0f64 / 3.0).ln());
    let want_xz = 5f64.ln() - h_x_z;
    let want_zy = entropy_of_labels(&labels) - h_y_z;
    for var in [1e-300, 1e-30, 1e-12, 5e-324] {
        let e = exact_information_1d(&means, &[var; 5], Some(&labels)).unwrap();
        assert!(
            (e.i_xz - want_xz).abs() < 1e-13,
            "var {var:e}: {e:?} vs {want_xz}"
        );
        assert!(
            (e.i_zy.unwrap() - want_zy).abs() < 1e-13,
            "var {var:e}: {e:?} vs {want_zy}"
        );
        assert!((e.mass - 1.0).abs() < 1e-13, "var {var:e}: {e:?}");
    }
    // At 128 bits a standard deviation of 1e-150 is still far below the spacing of
    // numbers near 1 (2^-127).
    let m: Vec<Mp128> = means.iter().map(|x| Mp128::from_f64(*x)).collect();
    let v = vec![Mp128::parse("1e-300").unwrap(); 5];
    let e = exact_information_1d(&m, &v, Some(&labels)).unwrap();
    assert!((e.i_xz.to_f64() - want_xz).abs() < 1e-15, "{e:?}");
    assert!((e.i_zy.unwrap().to_f64() - want_zy).abs() < 1e-15);
}

/// I(X;Z) and I(Z;Y) do not change under z → a·z + b. Far from 0 (means 1e10, or 2^332
/// with standard deviations 2^284: 16 units in the last place of the mean per standard
/// deviation) they must equal the values at the origin; the old quadrature, with one
/// working-precision z, was off by about 1e-7 at 1e10.
#[test]
fn information_is_invariant_under_affine_maps_far_from_zero() {
    let base_m = [0.0, 1.5, 3.0, 7.0, 7.25];
    let base_v = [1.0, 0.5, 2.0, 1.0, 0.01];
    let labels = [0usize, 1, 0, 1, 1];
    let base = exact_information_1d(&base_m, &base_v, Some(&labels)).unwrap();
    let (a, b) = (2f64.powi(284), 2f64.powi(332));
    let cases: [(f64, f64); 3] = [(1.0, 1e10), (1.0, -1e10), (a, b)];
    for (scale, shift) in cases {
        let m: Vec<f64> = base_m.iter().map(|x| shift + scale * x).collect();
        let v: Vec<f64> = base_v.iter().map(|x| scale * scale * x).collect();
        // Every mean and variance is exact in f64, so the maps are exact.
        for (mi, x) in m.iter().zip(&base_m) {
            assert_eq!((mi - shift) / scale, *x);
        }
        let e = exact_information_1d(&m, &v, Some(&labels)).unwrap();
        assert!(
            (e.i_xz - base.i_xz).abs() < 1e-13,
            "{scale} {shift}: {e:?} vs {base:?}"
        );
        assert!(
            (e.i_zy.unwrap() - base.i_zy.unwrap()).abs() < 1e-13,
            "{e:?} vs {base:?}"
        );
        assert!((e.mass - 1.0).abs() < 1e-13, "{e:?}");
    }
}

/// The study's check rejects an exact value outside its proven range (bounds, 0, ln P,
/// H(Y), I(Z;Y) ≤ I(X;Z)) or from a quadrature whose ∫ p is not 1, and passes a value
/// inside.
#[test]
fn exact_values_outside_their_proven_bounds_are_rejected() {
    let means = DMatrix::from_row_slice(4, 1, &[0.0, 0.3, 0.1, 0.4]);
    let vars = [1.0, 0.8, 1.2, 1.0];
    let labels = [0usize, 0, 1, 1];
    let b = pairwise_bounds(&means, &vars, Some(&labels)).unwrap();
    let good = exact_information_1d(means.as_slice(), &vars, Some(&labels)).unwrap();
    let ln_m = 4f64.ln();
    let c = check_exact(&good, &b, &ln_m, 4);
    assert_eq!(c.i_xz.clone().unwrap(), good.i_xz);
    assert_eq!(c.i_zy.clone().unwrap().unwrap(), good.i_zy.unwrap());
    let with = |i_xz: f64, i_zy: f64, mass: f64| Exact1d {
        i_xz,
        i_zy: Some(i_zy),
        mass,
    };
    let why = |e: Exact1d<f64>| {
        let c = check_exact(&e, &b, &ln_m, 4);
        (c.i_xz.err(), c.i_zy.unwrap().err())
    };
    let zy = good.i_zy.unwrap();
    // Above the KL upper bound, as the old f64 quadrature gave (246.75 against 1.80).
    let (x, _) = why(with(b.i_xz.upper + 1e-6, zy, 1.0));
    assert!(x
        .unwrap()
        .contains("above its proven upper bound i_xz_upper"));
    let (x, _) = why(with(-0.29, zy, 1.0));
    assert!(x.unwrap().contains("below its proven lower bound 0"));
    let (x, _) = why(with(b.i_xz.lower - 1e-6, zy, 1.0));
    assert!(x
        .unwrap()
        .contains("below its proven lower bound i_xz_lower"));
    let (x, y) = why(with(good.i_xz, f64::NAN, 1.0));
    assert!(x.is_none() && y.unwrap().contains("not a number"));
    let (_, y) = why(with(good.i_xz, 2f64.ln() + 1e-9, 1.0));
    assert!(y.unwrap().contains("above its proven upper bound H(Y)"));
    let zy_upper = b.i_zy.as_ref().unwrap().upper;
    assert!(zy_upper + 1e-6 < 2f64.ln());
    let (_, y) = why(with(good.i_xz, zy_upper + 1e-6, 1.0));
    assert!(y
        .unwrap()
        .contains("above its proven upper bound i_zy_upper"));
    let (x, y) = why(with(good.i_xz, zy, 1.0 - 1e-6));
    assert!(x.unwrap().contains("integral of p(z) is 0.999999"));
    assert!(y.unwrap().contains("integral of p(z)"));
    // Within the margin (rounding) both pass.
    let (x, y) = why(with(b.i_xz.upper + 1e-13, zy, 1.0 + 1e-13));
    assert!(x.is_none() && y.is_none());
}

/// The brief's case: two half-moons at t = ∞ in the NTK regime, where the training
/// points are point masses at their targets ±1 (variance σ_n² = 1e-300 or 1e-30). Then
/// Z = y_i exactly for a training point, with posterior uniform over the n_y training
/// points of that target, and H(X | Z) = Σ_y (n_y/P) ln n_y + (1/P) ∫ Σ_{test} p_i(z)
/// H_test(z) dz, H_test the entropy of the posterior over the test components alone;
/// H(Y | Z) likewise (0 on the point masses). The integral over the 12 broad test
/// components is done here by the trapezoidal rule. The f64 command gave 246.75 and 1.666
/// for I(X;Z) (bounds [1.790, 1.803]), 0.198 and 0.6959 for I(Z;Y) (> ln 2).
#[test]
fn moons_at_t_inf_with_point_masses_match_the_hand_derived_limit() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o");
    let (code, stdout, stderr) = ibex(&[
        "ntk",
        "--train",
        &example("moons_train.csv"),
        "--test",
        &example("moons_test.csv"),
        "--times",
        "inf",
        "--noise-var",
        "1e-300,1e-30",
        "--regime",
        "ntk",
        "--out",
        p(&out),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(!stdout.contains("left empty"), "{stdout}");
    let targets = |name: &str| -> Vec<f64> {
        std::fs::read_to_string(example(name))
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with('#') && !l.starts_with("x1"))
            .map(|l| l.rsplit(',').next().unwrap().trim().parse().unwrap())
            .collect()
    };
    let (y_train, y_test) = (targets("moons_train.csv"), targets("moons_test.csv"));
    let (_, pred) = csv(&out.join("predictions.csv"));
    let (mut m, mut v) = (Vec::new(), Vec::new());
    for r in &pred {
        let (mean, var): (f64, f64) = (r[4].parse().unwrap(), r[5].parse().unwrap());
        if r[2] == "train" {
            // The t = ∞ training marginal is N(y, 0).
            let i: usize = r[3].parse().unwrap();
            assert_eq!((mean, var), (y_train[i], 0.0));
        } else {
            m.push(mean);
            v.push(var);
        }
    }
    assert_eq!(m.len(), y_test.len());
    let n_pts = (y_train.len() + y_test.len()) as f64;
    let label = |y: f64| usize::from(y > 0.0);
    let n_pos = y_train.iter().filter(|y| **y > 0.0).count() as f64;
    let n_neg = y_train.len() as f64 - n_pos;
    let all_labels: Vec<usize> = y_train.iter().chain(&y_test).map(|y| label(*y)).collect();
    let h_y = entropy_of_labels(&all_labels);
    let sd: Vec<f64> = v.iter().map(|x| x.sqrt()).collect();
    let lo = (0..m.len())
        .map(|i| m[i] - 12.0 * sd[i])
        .fold(f64::INFINITY, f64::min);
    let hi = (0..m.len())
        .map(|i| m[i] + 12.0 * sd[i])
        .fold(f64::NEG_INFINITY, f64::max);
    let h = sd.iter().copied().fold(f64::INFINITY, f64::min) / 40.0;
    let steps = ((hi - lo) / h).ceil() as usize;
    let h = (hi - lo) / steps as f64;
    let (mut int_x, mut int_y) = (0.0, 0.0);
    for s in 0..=steps {
        let z = lo + s as f64 * h;
        let dens: Vec<f64> = (0..m.len())
            .map(|i| {
                (-(z - m[i]).powi(2) / (2.0 * v[i])).exp()
                    / (2.0 * std::f64::consts::PI * v[i]).sqrt()
            })
            .collect();
        let total: f64 = dens.iter().sum();
        if total == 0.0 {
            continue;
        }
        let hx: f64 = dens
            .iter()
            .filter(|d| **d > 0.0)
            .map(|d| -(d / total) * (d / total).ln())
            .sum();
        let w_pos: f64 = (0..m.len())
            .filter(|&i| y_test[i] > 0.0)
            .map(|i| dens[i] / total)
            .sum();
        let hy = [w_pos, 1.0 - w_pos]
            .iter()
            .filter(|w| **w > 0.0)
            .map(|w| -w * w.ln())
            .sum::<f64>();
        let wt = if s == 0 || s == steps { 0.5 * h } else { h };
        int_x += wt * total * hx;
        int_y += wt * total * hy;
    }
    let h_x_z = (n_pos * n_pos.ln() + n_neg * n_neg.ln() + int_x) / n_pts;
    let want_xz = n_pts.ln() - h_x_z;
    let want_zy = h_y - int_y / n_pts;
    let (head, rows) = csv(&out.join("info.csv"));
    let col = |name: &str| head.iter().position(|c| c == name).unwrap();
    assert_eq!(rows.len(), 2);
    for r in &rows {
        let get = |name: &str| -> f64 { r[col(name)].parse().unwrap() };
        let (xz, zy) = (get("i_xz_exact"), get("i_zy_exact"));
        assert!((xz - want_xz).abs() < 1e-10, "{}: {xz} vs {want_xz}", r[1]);
        assert!((zy - want_zy).abs() < 1e-10, "{}: {zy} vs {want_zy}", r[1]);
        assert!(get("i_xz_lower") <= xz && xz <= get("i_xz_upper"));
        assert!(get("i_zy_lower") <= zy && zy <= get("i_zy_upper"));
    }
}

/// Two training points with targets ±1e100 (or ±1e10): from t = 1 on, every mean is
/// many standard deviations from every other, the Kolchinsky-Tracey bounds meet
/// (both ln 14 for I(X;Z)), and they pin the exact value [KT17]. The old quadrature
/// gave I(X;Z) = -0.29 at t = 1 (1e100) and ln 14 + 2e-7 (1e10).
#[test]
fn far_targets_give_the_value_the_meeting_bounds_pin() {
    for y in ["1e100", "1e10"] {
        let dir = tempfile::tempdir().unwrap();
        let train = dir.path().join("train.csv");
        std::fs::write(&train, format!("0,0,{y}\n1,0,-{y}\n")).unwrap();
        let out = dir.path().join("o");
        let (code, stdout, stderr) = ibex(&[
            "ntk",
            "--train",
            p(&train),
            "--test",
            &example("moons_test.csv"),
            "--times",
            "0,1,10,inf",
            "--out",
            p(&out),
        ]);
        assert_eq!(code, 0, "{stderr}");
        assert!(!stdout.contains("left empty"), "{stdout}");
        let (head, rows) = csv(&out.join("info.csv"));
        let col = |name: &str| head.iter().position(|c| c == name).unwrap();
        assert_eq!(rows.len(), 8);
        for r in rows.iter().filter(|r| r[0] != "0") {
            let get = |name: &str| -> f64 { r[col(name)].parse().unwrap() };
            let ln_m = get("ln_m");
            assert!((ln_m - 14f64.ln()).abs() < 1e-15);
            for q in ["i_xz", "i_zy"] {
                let (lo, up) = (get(&format!("{q}_lower")), get(&format!("{q}_upper")));
                assert!(
                    (up - lo).abs() < 1e-12,
                    "{y} t {}: {q} bounds {lo} {up}",
                    r[0]
                );
                let exact = get(&format!("{q}_exact"));
                assert!(
                    (exact - lo).abs() < 1e-12,
                    "{y} t {} {}: {q}_exact {exact} vs {lo}",
                    r[0],
                    r[col("regime")]
                );
            }
            assert!((get("i_xz_exact") - ln_m).abs() < 1e-12);
        }
    }
}

/// The eigenvalues of c·A are c times those of A, exactly for c a power of two. With
/// A = tridiag(−1, 2, −1) (n × n, eigenvalues 2 − 2cos(kπ/(n+1))) and c = 2^±1000 the
/// entries sit near the ends of the f64 range, where the squares in the Householder
/// reduction overflowed (NaN eigenvalues, reported as a non-finite kernel for
/// `--diag-reg 1e300`) or underflowed.
#[test]
fn eigenvalues_scale_exactly_near_the_ends_of_the_exponent_range() {
    use ibex::ntk::linalg::SymmetricEigen;
    let n = 7;
    let laplacian = DMatrix::from_fn(n, n, |i, j| match i.abs_diff(j) {
        0 => 2.0,
        1 => -1.0,
        _ => 0.0,
    });
    let want: Vec<f64> = (1..=n)
        .map(|k| 2.0 - 2.0 * (k as f64 * std::f64::consts::PI / (n + 1) as f64).cos())
        .collect();
    for c in [1.0, 2f64.powi(1000), 2f64.powi(-1000), 2f64.powi(1020)] {
        let e = SymmetricEigen::new(&(laplacian.clone() * c));
        assert!(e.converged, "scale {c:e}");
        for (got, w) in e.values.iter().zip(&want) {
            assert!((got / c - w).abs() < 1e-14, "scale {c:e}: {got:e} vs {w}");
        }
        // The vectors are orthonormal: V^T V = I.
        let vtv = e.vectors.transpose() * &e.vectors;
        assert!(
            (vtv - DMatrix::<f64>::identity(n, n)).amax() < 1e-14,
            "scale {c:e}"
        );
    }
}

/// Runs `ibex ntk` on the examples (or the given training file) with `extra` flags.
fn run(train: Option<&Path>, extra: &[&str]) -> (i32, String, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o");
    let train = train.map_or_else(|| example("moons_train.csv"), |t| p(t).to_string());
    let test = example("moons_test.csv");
    let mut args = vec![
        "ntk",
        "--train",
        &train,
        "--test",
        &test,
        "--times",
        "0,1,inf",
        "--out",
        p(&out),
    ];
    args.extend_from_slice(extra);
    let (code, stdout, stderr) = ibex(&args);
    (code, stdout, stderr, dir)
}

/// A kernel that overflows is an error (exit 2, one line) that names the kernel, the
/// entry, its points and the way out; at 128 bits (MPFR's exponent range) the same
/// run goes through, as the message says.
#[test]
fn an_overflowing_kernel_is_an_error_that_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let big_input = dir.path().join("big.csv");
    std::fs::write(&big_input, "0.5,0,1\n1e300,0,-1\n0,1,1\n").unwrap();
    for (train, flags, entry) in [
        (
            None,
            vec!["--w-std", "1e100"],
            "entry (1, 1) = inf (training point 1 with itself)",
        ),
        (
            None,
            vec!["--b-std", "1e200"],
            "entry (1, 1) = inf (training point 1 with itself)",
        ),
        (
            Some(big_input.as_path()),
            vec![],
            "entry (2, 2) = inf (training point 2 with itself)",
        ),
    ] {
        let (code, stdout, stderr, _dir) = run(train, &flags);
        assert_eq!(code, 2, "{flags:?}: {stdout} {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        // An overflow, said as one: not an invalid parameter named
        // `--w-std/--b-std/inputs`, which it was (none of the three is out of its domain).
        assert!(
            stderr.starts_with(&format!(
                "error: the NNGP kernel overflowed in f64: found {entry}, expected finite entries: "
            )),
            "{flags:?}: {stderr}"
        );
        assert!(!stderr.contains("invalid parameter"), "{stderr}");
        assert!(
            stderr.contains("reduce --w-std/--b-std or the input scale, or use --precision 128"),
            "{stderr}"
        );
        assert!(!stderr.contains("panicked"));
    }
    // The library's error is the overflow variant, with its parts.
    let net = FcNetwork::uniform(Activation::Relu, 1, 1e100, 0.0).unwrap();
    let x = DMatrix::from_row_slice(2, 2, &[0.5, 0.0, 0.0, 1.0]);
    match Kernels::new(&net, &x, &DMatrix::zeros(0, 2)) {
        Err(Error::Overflow {
            what,
            precision,
            found,
            ..
        }) => {
            assert_eq!(
                (what.as_str(), precision.as_str()),
                ("the NNGP kernel", "f64")
            );
            assert_eq!(found, "entry (1, 1) = inf (training point 1 with itself)");
        }
        other => panic!("{other:?}"),
    }
    let (code, stdout, stderr, dir) = run(None, &["--w-std", "1e100", "--precision", "128"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        !stdout.contains("overflow") && !stdout.contains("not finite"),
        "{stdout}"
    );
    let (head, rows) = csv(&dir.path().join("o").join("info.csv"));
    let col = head.iter().position(|c| c == "i_xz_exact").unwrap();
    assert!(rows
        .iter()
        .all(|r| r[col].parse::<f64>().unwrap().is_finite()));
}

/// Targets ±1e200: the kernels and the means are finite, but squares of the targets
/// overflow f64. Those cells are empty (never `inf` or `nan`), one warning per regime
/// and reason names them, and nothing claims a zero variance; the information bounds,
/// which do not square the targets, stay.
#[test]
fn overflowing_targets_leave_named_empty_cells() {
    let dir = tempfile::tempdir().unwrap();
    let train = dir.path().join("t.csv");
    std::fs::write(&train, "0,0,1e200\n1,0,-1e200\n0,1,1e200\n").unwrap();
    let (code, stdout, stderr, out) = run(Some(&train), &[]);
    assert_eq!(code, 0, "{stderr}");
    let (_, pred) = csv(&out.path().join("o").join("predictions.csv"));
    for r in &pred {
        for cell in &r[4..] {
            assert!(
                cell.is_empty() || cell.parse::<f64>().unwrap().is_finite(),
                "{r:?}"
            );
        }
    }
    let (head, rows) = csv(&out.path().join("o").join("info.csv"));
    let col = |name: &str| head.iter().position(|c| c == name).unwrap();
    for r in &rows {
        // Every value cell (not t, which may be inf, nor the regime) is finite or empty.
        for (k, cell) in r
            .iter()
            .enumerate()
            .filter(|(k, _)| *k != 0 && *k != col("regime"))
        {
            assert!(
                cell.is_empty() || cell.parse::<f64>().unwrap().is_finite(),
                "{}: {cell}",
                head[k]
            );
        }
        assert!(r[col("i_xz_upper")].parse::<f64>().is_ok(), "{r:?}");
    }
    // At t = 1 the means are ~1e200: the losses square them.
    let t1 = rows.iter().find(|r| r[0] == "1").unwrap();
    assert_eq!(t1[col("loss_test")], "");
    assert!(
        stdout.contains("ntk: kl_posterior_prior, gibbs_loglik, bayes_loglik and loss_test are empty at t = 1, inf: not finite in f64"),
        "{stdout}"
    );
    assert!(stdout.contains("use --precision 128"), "{stdout}");
    assert!(!stdout.contains("zero variance"), "{stdout}");
}

/// On a grid of 100 times the training covariance is singular to the working precision
/// (its KL to the prior undefined) from t ≈ 28 on: 44 of the 102 times. The warning
/// says so on one short line, with the count and the first and last three of the times
/// whose `kl_posterior_prior_train` cells are empty. It used to list every one of them
/// (hundreds with `--steps 1000`).
#[test]
fn a_warning_about_many_times_gives_their_count_and_the_first_and_last() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o");
    let (code, stdout, stderr) = ibex(&[
        "ntk",
        "--train",
        &example("moons_train.csv"),
        "--test",
        &example("moons_test.csv"),
        "--t-min",
        "0.01",
        "--t-max",
        "1e4",
        "--steps",
        "100",
        "--regime",
        "ntk",
        "--exact-max-points",
        "0",
        "--out",
        p(&out),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let (head, rows) = csv(&out.join("info.csv"));
    assert_eq!(rows.len(), 102, "t = 0, 100 grid times, inf");
    let col = head
        .iter()
        .position(|c| c == "kl_posterior_prior_train")
        .unwrap();
    let empty: Vec<&str> = rows
        .iter()
        .filter(|r| r[col].is_empty())
        .map(|r| r[0].as_str())
        .collect();
    let n = empty.len();
    assert!(n > 8 && n < 102, "{n} empty cells");
    let want = format!(
        "warning: ntk: kl_posterior_prior_train is empty at {n} of 102 times (t = {}, ..., {}): the training covariance",
        empty[..3].join(", "),
        empty[n - 3..].join(", ")
    );
    let line = stdout
        .lines()
        .find(|l| l.contains("kl_posterior_prior_train"))
        .unwrap_or_else(|| panic!("no warning: {stdout}"));
    assert!(line.starts_with(&want), "{line}\nwanted {want}");
    assert!(line.len() < 600, "{} characters: {line}", line.len());
}

/// `--diag-reg 1e300` (ε' ≈ 7e299 on the diagonal): the kernel is finite and the
/// eigen-decomposition now copes with it. By hand: at t = 1, e^{−τG/n} = 0 in f64, so the
/// NTK training marginal is N(Y, 0) (loss 0), and G⁻¹A_τ ≈ I/ε' makes the test marginal
/// equal the prior N(0, K) to 1e-290. Before, every t > 0 quantity was NaN, with
/// warnings about a non-finite kernel and a zero variance.
#[test]
fn a_huge_regulariser_gives_the_limits_derived_by_hand() {
    let (code, stdout, stderr, out) = run(None, &["--diag-reg", "1e300", "--regime", "ntk"]);
    assert_eq!(code, 0, "{stderr}");
    for bad in [
        "non-finite",
        "did not converge",
        "zero variance",
        "not finite",
    ] {
        assert!(!stdout.contains(bad), "{bad}: {stdout}");
    }
    let (_, pred) = csv(&out.path().join("o").join("predictions.csv"));
    let at = |t: &str, split: &str| -> Vec<(f64, f64)> {
        pred.iter()
            .filter(|r| r[0] == t && r[2] == split)
            .map(|r| (r[4].parse().unwrap(), r[5].parse().unwrap()))
            .collect()
    };
    let y_train: Vec<f64> = std::fs::read_to_string(example("moons_train.csv"))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("x1"))
        .map(|l| l.rsplit(',').next().unwrap().trim().parse().unwrap())
        .collect();
    let train1 = at("1", "train");
    assert_eq!(train1.len(), y_train.len());
    for ((mean, var), y) in train1.iter().zip(&y_train) {
        assert_eq!((*mean, *var), (*y, 0.0));
    }
    for ((m1, v1), (m0, v0)) in at("1", "test").iter().zip(at("0", "test")) {
        assert!(m1.abs() < 1e-290 && m0 == 0.0, "{m1}");
        assert!((v1 - v0).abs() <= 1e-15 * v0, "{v1} vs {v0}");
    }
    let (head, rows) = csv(&out.path().join("o").join("info.csv"));
    let col = |name: &str| head.iter().position(|c| c == name).unwrap();
    let t1 = rows.iter().find(|r| r[0] == "1").unwrap();
    assert_eq!(t1[col("loss_train")], "0");
    assert!(t1[col("i_xz_exact")].parse::<f64>().is_ok());
}

/// `--steps` and `--times` are capped at 10000 times: `--steps 100000000` ran for days
/// and needed ~880 GB. The refusal is immediate.
#[test]
fn the_number_of_times_is_capped() {
    let start = std::time::Instant::now();
    for steps in ["100000000", "10001"] {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("o");
        let (code, _, stderr) = ibex(&[
            "ntk",
            "--train",
            &example("moons_train.csv"),
            "--test",
            &example("moons_test.csv"),
            "--t-min",
            "0.1",
            "--t-max",
            "10",
            "--steps",
            steps,
            "--out",
            p(&out),
        ]);
        assert_eq!(code, 2, "{stderr}");
        assert!(
            stderr.contains(&format!(
                "invalid parameter `--steps`: found {steps}, expected between 2 and 10000"
            )),
            "{stderr}"
        );
        assert!(!out.exists(), "nothing is written");
    }
    let many = vec!["1"; 10_001].join(",");
    let dir = tempfile::tempdir().unwrap();
    let (code, _, stderr) = ibex(&[
        "ntk",
        "--train",
        &example("moons_train.csv"),
        "--test",
        &example("moons_test.csv"),
        "--times",
        &many,
        "--out",
        p(&dir.path().join("o")),
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("found 10001 times, expected at most 10000 times"),
        "{stderr}"
    );
    assert!(start.elapsed().as_secs() < 60);
}
