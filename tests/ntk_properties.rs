//! The NTK part against truths that do not come from its own code: hand-derived depth-1
//! kernels (written here with arccos, not the library's atan2), t = 0 is the prior,
//! t = ∞ is kernel regression (nalgebra's Cholesky), finite t against nalgebra's matrix
//! exponential, f64 against MPFR, the pairwise bounds bracketing the exact value, the
//! quadrature against the spec's unthinned recipe, and the weight-space formula against
//! a direct evaluation.

use ibex::ntk::ensemble::{Ensemble, Regime, Time, Training};
use ibex::ntk::gaussian::{
    bayes_loglik, exact_information_1d, gauss_legendre, gaussian_entropy_1d, gibbs_loglik,
    kl_gaussians, label_groups, mixture_entropy_1d, pairwise_bounds,
};
use ibex::ntk::kernel::{kernel_matrices, Activation, FcNetwork, Kernels, Kind};
use ibex::scalar::{convert, Mp256, Mp512, Real};
use nalgebra::DMatrix;

/// Deterministic pseudo-random numbers in [-1, 1) (xorshift).
fn noise(n: usize, seed: u64) -> Vec<f64> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            2.0 * ((s >> 11) as f64 / (1u64 << 53) as f64) - 1.0
        })
        .collect()
}

fn points(n: usize, d: usize, seed: u64) -> DMatrix<f64> {
    DMatrix::from_vec(n, d, noise(n * d, seed)) * 1.5
}

/// Depth 1 by hand: K¹ = σw²⟨x,x'⟩/d + σb², then φ, then the read-out.
fn hand_depth1(act: Activation, x: &[f64], xp: &[f64], w: f64, b: f64) -> (f64, f64) {
    let d = x.len() as f64;
    let dot = |a: &[f64], c: &[f64]| a.iter().zip(c).map(|(u, v)| u * v).sum::<f64>() / d;
    let (k12, k11, k22) = (
        w * w * dot(x, xp) + b * b,
        w * w * dot(x, x) + b * b,
        w * w * dot(xp, xp) + b * b,
    );
    let pi = std::f64::consts::PI;
    let (phi, dphi) = match act {
        Activation::Relu => {
            // Cho & Saul: E[relu(u) relu(v)] = √(K11K22)/(2π)(sin θ + (π − θ) cos θ), cos θ = K12/√(K11K22).
            let c = (k12 / (k11 * k22).sqrt()).clamp(-1.0, 1.0);
            let th = c.acos();
            (
                (k11 * k22).sqrt() / (2.0 * pi) * (th.sin() + (pi - th) * c),
                (pi - th) / (2.0 * pi),
            )
        }
        Activation::Erf => {
            let a = (1.0 + 2.0 * k11) * (1.0 + 2.0 * k22);
            (
                2.0 / pi * (2.0 * k12 / a.sqrt()).asin(),
                4.0 / pi / (a - 4.0 * k12 * k12).sqrt(),
            )
        }
        Activation::Identity => (k12, 1.0),
    };
    let k2 = w * w * phi + b * b;
    (k2, k2 + w * w * k12 * dphi)
}

#[test]
fn depth_one_kernels_equal_the_hand_derivation() {
    let x = points(7, 4, 11);
    for act in [Activation::Relu, Activation::Erf, Activation::Identity] {
        for (w, b) in [(1.5, 0.1), (1.0, 0.0), (0.7, 1.2)] {
            let net = FcNetwork::uniform(act, 1, w, b).unwrap();
            let (k, t) = kernel_matrices(&net, &x).unwrap();
            for i in 0..7 {
                for j in 0..7 {
                    let xi: Vec<f64> = x.row(i).iter().copied().collect();
                    let xj: Vec<f64> = x.row(j).iter().copied().collect();
                    let (hk, ht) = hand_depth1(act, &xi, &xj, w, b);
                    // acos near θ = 0 loses ~√ε, so the diagonal is compared loosely here
                    // (the oracle checks it to 1e-12).
                    let tol = if i == j { 1e-7 } else { 1e-12 };
                    assert!(
                        (k[(i, j)] - hk).abs() <= tol * hk.abs().max(1.0),
                        "{act:?} K {i} {j}"
                    );
                    assert!(
                        (t[(i, j)] - ht).abs() <= tol * ht.abs().max(1.0),
                        "{act:?} Θ {i} {j}"
                    );
                }
            }
        }
    }
}

#[test]
fn relu_angle_is_exactly_zero_for_identical_inputs() {
    // θ = 0 on the diagonal: Ṫ = 1/2 exactly, so for depth 1 and b = 0,
    // Θ(x,x) = K² + σw²·K¹/2 with K² = σw²K¹/2: Θ = σw² K¹ exactly in binary.
    let x = DMatrix::from_row_slice(2, 2, &[0.75, -0.5, 0.75, -0.5]);
    let net = FcNetwork::uniform(Activation::Relu, 1, 2.0, 0.0).unwrap();
    let (k, t) = kernel_matrices(&net, &x).unwrap();
    let k1 = 4.0 * (0.75 * 0.75 + 0.25) / 2.0;
    assert_eq!(k[(0, 0)], 4.0 * k1 / 2.0);
    assert_eq!(t[(0, 0)], 4.0 * k1);
    assert_eq!(t[(0, 1)], t[(0, 0)]);
}

fn setup(act: Activation, depth: usize, n: usize, m: usize) -> (Kernels<f64>, DMatrix<f64>) {
    let net = FcNetwork::uniform(act, depth, 1.4, 0.2).unwrap();
    let kernels = Kernels::new(&net, &points(n, 3, 5), &points(m, 3, 6)).unwrap();
    let y = DMatrix::from_vec(n, 1, noise(n, 9));
    (kernels, y)
}

#[test]
fn time_zero_is_the_prior() {
    let (kernels, y) = setup(Activation::Relu, 2, 8, 5);
    for regime in [Regime::Ntk, Regime::Nngp] {
        let ens = Ensemble::new(&kernels, &y, regime, &Training::default()).unwrap();
        let t0 = Time::At(0.0);
        let (tr, te) = (ens.train(&t0), ens.test(&t0));
        assert_eq!(tr.mean.amax(), 0.0);
        assert_eq!(te.mean.amax(), 0.0);
        assert!((tr.cov - kernels.train_train(Kind::Nngp)).amax() < 1e-13);
        assert!((te.cov - kernels.test_test(Kind::Nngp)).amax() < 1e-13);
    }
}

#[test]
fn infinite_time_is_kernel_regression() {
    let (kernels, y) = setup(Activation::Erf, 2, 9, 4);
    for regime in [Regime::Ntk, Regime::Nngp] {
        let kind = if regime == Regime::Ntk {
            Kind::Ntk
        } else {
            Kind::Nngp
        };
        let g = kernels.train_train(kind);
        let gx = kernels.test_train(kind);
        let chol = g.clone().cholesky().unwrap();
        let want_mean = &gx * chol.solve(&y);
        let ens = Ensemble::new(&kernels, &y, regime, &Training::default()).unwrap();
        let inf = ens.test(&Time::Infinity);
        assert!((&inf.mean - &want_mean).amax() < 1e-10, "{regime:?}");
        if regime == Regime::Nngp {
            let kx = kernels.test_train(Kind::Nngp);
            let want = kernels.test_test(Kind::Nngp) - &kx * chol.solve(&kx.transpose());
            assert!((&inf.cov - want).amax() < 1e-10);
        }
        // The training points are interpolated, and a long finite time gets there too.
        let tr = ens.train(&Time::Infinity);
        assert_eq!(tr.mean, y);
        assert_eq!(tr.cov.amax(), 0.0);
        let late = ens.test(&Time::At(1e9));
        assert!((&late.mean - &inf.mean).amax() < 1e-8, "{regime:?}");
        assert!((&late.cov - &inf.cov).amax() < 1e-8, "{regime:?}");
    }
}

#[test]
fn finite_time_matches_the_matrix_exponential() {
    let (kernels, y) = setup(Activation::Relu, 3, 7, 3);
    let n = 7.0;
    for regime in [Regime::Ntk, Regime::Nngp] {
        let kind = if regime == Regime::Ntk {
            Kind::Ntk
        } else {
            Kind::Nngp
        };
        let g = kernels.train_train(kind);
        let k = kernels.train_train(Kind::Nngp);
        let training = Training {
            learning_rate: 0.5,
            ..Training::default()
        };
        let ens = Ensemble::new(&kernels, &y, regime, &training).unwrap();
        for t in [0.3, 4.0, 50.0] {
            let e = (&g * (-0.5 * t / n)).exp();
            let got = ens.train(&Time::At(t));
            let want_mean = (DMatrix::identity(7, 7) - &e) * &y;
            assert!((&got.mean - want_mean).amax() < 1e-12, "{regime:?} t {t}");
            let want_cov = match regime {
                Regime::Ntk => &e * &k * &e,
                Regime::Nngp => &k * &e * &e,
            };
            assert!((&got.cov - want_cov).amax() < 1e-12, "{regime:?} t {t}");
            // Test mean: G_*X G⁻¹ (I − e) Y, with an explicit (test-only) inverse.
            let gi = g.clone().try_inverse().unwrap();
            let want = kernels.test_train(kind) * gi * (DMatrix::identity(7, 7) - &e) * &y;
            assert!((ens.test(&Time::At(t)).mean - want).amax() < 1e-10);
        }
    }
}

#[test]
fn weight_space_formula_matches_a_direct_evaluation() {
    let (kernels, y) = setup(Activation::Relu, 2, 6, 2);
    let g = kernels.train_train(Kind::Ntk);
    let k = kernels.train_train(Kind::Nngp);
    let ens = Ensemble::new(&kernels, &y, Regime::Ntk, &Training::default()).unwrap();
    let gi = g.clone().try_inverse().unwrap();
    for t in [0.5, 20.0] {
        let a = DMatrix::identity(6, 6) - (&g * (-t / 6.0)).exp();
        let q = &gi * &a * &a;
        let want = (&k * &q).trace() + (y.transpose() * &q * &y)[(0, 0)];
        let w = ens.weight_information(&Time::At(t));
        let got = w.param_distance_sq.unwrap();
        assert!(
            (got - want).abs() < 1e-9 * want.abs().max(1.0),
            "{got} {want}"
        );
        let q7 = -(&k * &q).trace() - (y.transpose() * &q * &y)[(0, 0)] + t * g.trace();
        assert!((w.i_theta_d_code.unwrap() - q7).abs() < 1e-9 * q7.abs().max(1.0));
    }
    let w = ens.weight_information(&Time::Infinity);
    let want = (&k * &gi).trace() + (y.transpose() * &gi * &y)[(0, 0)];
    assert!((w.param_distance_sq.unwrap() - want).abs() < 1e-8 * want.abs());
    assert!(w.i_theta_d_code.is_none());
}

fn to<T: Real>(m: &DMatrix<f64>) -> DMatrix<T> {
    m.map(T::from_f64)
}

#[test]
fn f64_kernels_and_moments_agree_with_256_bits() {
    // d_in = 10 > 8 training points: the identity network's kernel (rank <= d_in + 1)
    // is then non-singular and the problem well posed at every precision.
    let x = points(12, 10, 21);
    let y = DMatrix::from_vec(8, 1, noise(8, 4));
    for act in [Activation::Relu, Activation::Erf, Activation::Identity] {
        let net64 = FcNetwork::uniform(act, 3, 1.5, 0.1).unwrap();
        let net256 = FcNetwork::uniform(
            act,
            3,
            Mp256::parse("1.5").unwrap(),
            Mp256::parse("0.1").unwrap(),
        )
        .unwrap();
        let (k64, t64) = kernel_matrices(&net64, &x).unwrap();
        // 1.5 is exact in binary; 0.1 is parsed at each precision, so compare with the
        // f64 value of 0.1 converted exactly for the 256-bit run used for moments below.
        let (k256, t256) = kernel_matrices(&net256, &to::<Mp256>(&x)).unwrap();
        for (a, b) in k64
            .iter()
            .zip(k256.iter())
            .chain(t64.iter().zip(t256.iter()))
        {
            assert!(
                (a - b.to_f64()).abs() <= 2e-14 * a.abs().max(1.0),
                "{act:?}: {a} vs {b}"
            );
        }
        let x_tr = x.rows(0, 8).into_owned();
        let x_te = x.rows(8, 4).into_owned();
        let k64 = Kernels::new(&net64, &x_tr, &x_te).unwrap();
        let net_b = FcNetwork::uniform(act, 3, Mp256::from_f64(1.5), Mp256::from_f64(0.1)).unwrap();
        let kb = Kernels::new(&net_b, &to::<Mp256>(&x_tr), &to::<Mp256>(&x_te)).unwrap();
        let net_c = FcNetwork::uniform(act, 3, Mp512::from_f64(1.5), Mp512::from_f64(0.1)).unwrap();
        let kc = Kernels::new(&net_c, &to::<Mp512>(&x_tr), &to::<Mp512>(&x_te)).unwrap();
        for regime in [Regime::Ntk, Regime::Nngp] {
            let e64 = Ensemble::new(&k64, &y, regime, &Training::default()).unwrap();
            let eb = Ensemble::new(&kb, &to::<Mp256>(&y), regime, &Training::default()).unwrap();
            let ec = Ensemble::new(&kc, &to::<Mp512>(&y), regime, &Training::default()).unwrap();
            for t in [Time::At(1.0), Time::At(30.0), Time::Infinity] {
                let tb = match &t {
                    Time::At(v) => Time::At(Mp256::from_f64(*v)),
                    Time::Infinity => Time::Infinity,
                };
                let tc = match &t {
                    Time::At(v) => Time::At(Mp512::from_f64(*v)),
                    Time::Infinity => Time::Infinity,
                };
                let (g64, gb, gc) = (e64.test(&t), eb.test(&tb), ec.test(&tc));
                let scale = gb.cov.iter().map(|v| v.to_f64().abs()).fold(1.0, f64::max);
                for (a, b) in g64.cov.iter().zip(gb.cov.iter()) {
                    assert!((a - b.to_f64()).abs() < 1e-9 * scale, "{act:?} {regime:?}");
                }
                // 256 against 512 bits: the generic linear algebra reaches the working precision.
                for (b, c) in gb
                    .mean
                    .iter()
                    .zip(gc.mean.iter())
                    .chain(gb.cov.iter().zip(gc.cov.iter()))
                {
                    let c256: Mp256 = convert(c);
                    let d = (b.clone() - c256).abs();
                    assert!(
                        d < Mp256::parse("1e-60").unwrap(),
                        "{act:?} {regime:?}: {d}"
                    );
                }
            }
        }
    }
}

/// The spec's quadrature recipe (D.3) written out plainly: every breakpoint
/// m_i + c√v_i, c ∈ −40:0.25:40, unthinned, 32 Gauss-Legendre nodes per interval.
fn spec_recipe_entropy(m: &[f64], v: &[f64]) -> f64 {
    let (gx, gw) = gauss_legendre::<f64>(32);
    let mut bps: Vec<f64> = Vec::new();
    for (mi, vi) in m.iter().zip(v) {
        for s in -160..=160 {
            bps.push(mi + s as f64 * 0.25 * vi.sqrt());
        }
    }
    bps.sort_by(|a, b| a.partial_cmp(b).unwrap());
    bps.dedup();
    let p = m.len() as f64;
    let mut h = 0.0;
    for w in bps.windows(2) {
        let (half, mid) = (0.5 * (w[1] - w[0]), 0.5 * (w[1] + w[0]));
        for (x, wt) in gx.iter().zip(&gw) {
            let z = mid + half * x;
            let terms: Vec<f64> = m
                .iter()
                .zip(v)
                .map(|(mi, vi)| {
                    -(z - mi).powi(2) / (2.0 * vi) - 0.5 * (2.0 * std::f64::consts::PI * vi).ln()
                })
                .collect();
            let mx = terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let lnp = mx + terms.iter().map(|t| (t - mx).exp()).sum::<f64>().ln() - p.ln();
            if lnp.is_finite() {
                h -= wt * half * lnp.exp() * lnp;
            }
        }
    }
    h
}

#[test]
fn quadrature_matches_the_spec_recipe_and_256_bits() {
    for seed in 0..6 {
        let p = 3 + seed as usize * 2;
        let m: Vec<f64> = noise(p, 100 + seed).iter().map(|x| 3.0 * x).collect();
        let v: Vec<f64> = noise(p, 200 + seed)
            .iter()
            .map(|x| 10f64.powf(2.0 * x))
            .collect();
        let ours = mixture_entropy_1d(&m, &v).unwrap();
        let spec = spec_recipe_entropy(&m, &v);
        assert!((ours - spec).abs() < 1e-12, "seed {seed}: {ours} vs {spec}");
        let hi = mixture_entropy_1d(
            &m.iter().map(|x| Mp256::from_f64(*x)).collect::<Vec<_>>(),
            &v.iter().map(|x| Mp256::from_f64(*x)).collect::<Vec<_>>(),
        )
        .unwrap();
        assert!((ours - hi.to_f64()).abs() < 1e-12, "seed {seed}");
    }
}

#[test]
fn bounds_bracket_the_exact_values() {
    let mut checked = 0;
    for seed in 0..40u64 {
        let p = 2 + (seed as usize % 9);
        let spread = [0.1, 1.0, 5.0][seed as usize % 3];
        let m: Vec<f64> = noise(p, 300 + seed).iter().map(|x| spread * x).collect();
        let v: Vec<f64> = noise(p, 400 + seed)
            .iter()
            .map(|x| 0.05 + x.abs())
            .collect();
        // Binary labels (some repeat), so I(Z;Y) is a genuine coarsening.
        let y = DMatrix::from_fn(p, 1, |i, _| {
            if (i + seed as usize).is_multiple_of(3) {
                1.0
            } else {
                -1.0
            }
        });
        let (labels, _) = label_groups(&y);
        let means = DMatrix::from_vec(p, 1, m.clone());
        let b = pairwise_bounds(&means, &v, Some(&labels)).unwrap();
        let e = exact_information_1d(&m, &v, Some(&labels)).unwrap();
        let zy = b.i_zy.as_ref().unwrap();
        let tol = 1e-12;
        assert!(0.0 <= b.i_xz.lower, "{seed}");
        assert!(
            b.i_xz.lower <= e.i_xz + tol && e.i_xz <= b.i_xz.upper + tol,
            "{seed}: {b:?} {e:?}"
        );
        assert!(b.i_xz.upper <= b.ln_p + tol);
        let izy = e.i_zy.unwrap();
        assert!(
            zy.lower <= izy + tol && izy <= zy.upper + tol,
            "{seed}: {zy:?} {izy}"
        );
        assert!(izy <= e.i_xz + tol && zy.upper <= b.h_y.unwrap() + tol);
        checked += 1;
    }
    assert_eq!(checked, 40);
    // Clustered mixtures make both bounds exact [KT17]: two far groups of identical components.
    let m = [0.0, 0.0, 50.0, 50.0];
    let v = [1.0; 4];
    let b = pairwise_bounds(&DMatrix::from_row_slice(4, 1, &m), &v, None).unwrap();
    assert!((b.i_xz.lower - 2f64.ln()).abs() < 1e-12 && (b.i_xz.upper - 2f64.ln()).abs() < 1e-12);
    assert!((exact_information_1d(&m, &v, None).unwrap().i_xz - 2f64.ln()).abs() < 1e-12);
}

#[test]
fn gaussian_divergences_and_likelihoods() {
    // 1-D KL by its closed form.
    let kl = kl_gaussians(
        &DMatrix::from_element(1, 1, 0.3),
        &DMatrix::from_element(1, 1, 0.5),
        &DMatrix::from_element(1, 1, -0.2),
        &DMatrix::from_element(1, 1, 2.0),
    )
    .unwrap();
    let want = 0.5 * (0.5 / 2.0 + 0.25 / 2.0 - 1.0 + (2.0f64 / 0.5).ln());
    assert!((kl - want).abs() < 1e-15);
    assert!(kl_gaussians(
        &DMatrix::zeros(2, 1),
        &DMatrix::from_element(2, 2, 1.0),
        &DMatrix::zeros(2, 1),
        &DMatrix::identity(2, 2)
    )
    .is_none());
    // Bayes ≥ Gibbs (Jensen), equal for a point mass on one point.
    let y = DMatrix::from_row_slice(3, 1, &[0.5, -1.0, 2.0]);
    let mu = DMatrix::from_row_slice(3, 1, &[0.1, -0.5, 1.0]);
    let cov = DMatrix::from_row_slice(3, 3, &[1.0, 0.3, 0.1, 0.3, 0.8, 0.2, 0.1, 0.2, 0.5]);
    assert!(bayes_loglik(&y, &mu, &cov).unwrap() > gibbs_loglik(&y, &mu, &cov));
    let y1 = DMatrix::from_element(1, 1, 0.4);
    let zero = DMatrix::zeros(1, 1);
    let g = gibbs_loglik(&y1, &zero, &zero);
    assert!((bayes_loglik(&y1, &zero, &zero).unwrap() - g).abs() < 1e-15);
    assert!((g - (-0.08 - 0.5 * (2.0 * std::f64::consts::PI).ln())).abs() < 1e-15);
    assert!(
        (gaussian_entropy_1d(&1.0) - 0.5 * (2.0 * std::f64::consts::PI * std::f64::consts::E).ln())
            .abs()
            < 1e-15
    );
}
