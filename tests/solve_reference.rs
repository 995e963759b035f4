//! IB, dual IB and DIB solvers against independent truth: the DSBS closed form (Mrs.
//! Gerber's lemma), brute force over deterministic encoders, the binary-X exact envelope,
//! the BEC, limits in beta, and the dual IB's closed-form DSBS threshold.

mod common;

use common::{bconv, h2, h2_inverse, labels, random_joint};
use ibex::dib::GeneralizedIb;
use ibex::dual_ib::DualIb;
use ibex::ib::Ib;
use ibex::info;
use ibex::io::{parse_joint, ReadOptions};
use ibex::scalar::{Mp256, Real};
use ibex::solve::{solve, solve_restarts, Init, MergeTol, Stop, Termination};
use ibex::{Joint, MaximalCorrelation};
use nalgebra::DMatrix;

fn dsbs<T: Real>(e: &str) -> Joint<T> {
    let text = ibex::gen::dsbs(e).unwrap().to_csv("t");
    parse_joint::<T>("dsbs", &text, &ReadOptions::default())
        .unwrap()
        .joint
}

fn bits<T: Real>(nats: &T) -> T {
    info::nats_to_bits(nats)
}

/// Solves the IB on the DSBS with |T| = 2 from a seeded random start.
fn ib_dsbs<T: Real>(e: &str, beta: &T, stop: &Stop<T>) -> ibex::solve::Solution<T> {
    let p = dsbs::<T>(e);
    let init = Init::<T>::Random { seed: 7 }.encoder(2, 2).unwrap();
    solve(
        &Ib,
        &p,
        beta,
        init,
        stop,
        &MergeTol::for_stop(stop),
        &mut (),
    )
}

#[test]
fn dsbs_ib_points_lie_on_the_mrs_gerber_curve_f64() {
    let e = 0.1;
    for beta in [2.0, 3.0, 4.0, 10.0, 50.0] {
        let s = ib_dsbs::<f64>("0.1", &beta, &Stop::default());
        assert_eq!(s.termination, Termination::Converged, "beta {beta}");
        let (ix, iy) = (bits(&s.i_xt), bits(&s.i_ty));
        let curve = 1.0 - h2(&bconv(&e, &h2_inverse(&(1.0 - ix))));
        assert!(
            (iy - curve).abs() < 1e-10,
            "beta {beta}: I(T;Y) {iy} vs curve {curve}"
        );
        assert!(ix > 0.5, "beta {beta}: non-trivial");
    }
    // The spec's oracle point at beta = 4 (q = 0.0009061247186484093).
    let s = ib_dsbs::<f64>("0.1", &4.0, &Stop::default());
    assert!((bits(&s.i_xt) - 0.9895342196698186).abs() < 1e-10);
    assert!((bits(&s.i_ty) - 0.5287107311828348).abs() < 1e-10);
}

#[test]
fn dsbs_ib_points_at_256_bits_match_the_closed_form_to_1e_40() {
    // For T = X xor Z, Z ~ Bern(q), the point (1 − h(q), 1 − h(p*q)) is reached at
    // beta(q) = ln((1−q)/q) / ((1−2p) ln((1−s)/s)), s = p*q (spec ib §4.1).
    type T = Mp256;
    let p = T::parse("0.1").unwrap();
    let one = T::from_f64(1.0);
    let stop = Stop::<T>::new(100_000, T::parse("1e-60").unwrap());
    for q_str in ["0.02", "0.05", "0.1", "0.2", "0.3"] {
        let q = T::parse(q_str).unwrap();
        let s = bconv(&p, &q);
        let beta = ((one.clone() - q.clone()) / q.clone()).ln()
            / ((one.clone() - T::from_f64(2.0) * p.clone())
                * ((one.clone() - s.clone()) / s.clone()).ln());
        let sol = ib_dsbs::<T>("0.1", &beta, &stop);
        assert_eq!(sol.termination, Termination::Converged, "q {q_str}");
        let want_x = one.clone() - h2(&q);
        let want_y = one.clone() - h2(&s);
        let tol = T::parse("1e-40").unwrap();
        assert!((bits(&sol.i_xt) - want_x).abs() < tol, "q {q_str}: I(X;T)");
        assert!((bits(&sol.i_ty) - want_y).abs() < tol, "q {q_str}: I(T;Y)");
    }
}

#[test]
fn below_the_first_critical_beta_the_solution_is_trivial() {
    // DSBS: eta_KL = rho_m^2, so below 1/rho_m^2 the trivial solution is the only optimum.
    let p = dsbs::<f64>("0.1");
    let beta_c = MaximalCorrelation::of(&p).beta_critical_first;
    let stop = Stop::default();
    for seed in 0..5 {
        let init = Init::<f64>::Random { seed }.encoder(2, 2).unwrap();
        let s = solve(
            &Ib,
            &p,
            &(0.95 * beta_c),
            init,
            &stop,
            &MergeTol::for_stop(&stop),
            &mut (),
        );
        assert!(s.i_xt < 1e-9 && s.i_ty < 1e-9, "seed {seed}: {}", s.i_xt);
        assert_eq!(s.clusters.len(), 1);
    }
    // Any joint: below beta = 1 nothing is learnt (data processing).
    for seed in 1..4 {
        let m = random_joint(4, 3, seed);
        let j = Joint::normalized(m, labels(4), labels(3)).unwrap().joint;
        let init = Init::<f64>::Random { seed }.encoder(4, 4).unwrap();
        let s = solve(
            &Ib,
            &j,
            &0.9,
            init,
            &stop,
            &MergeTol::for_stop(&stop),
            &mut (),
        );
        assert!(s.i_xt < 1e-8, "seed {seed}: I(X;T) = {}", s.i_xt);
    }
}

#[test]
fn at_large_beta_all_the_information_is_kept() {
    let stop = Stop::default();
    for seed in 1..4 {
        let m = random_joint(5, 3, seed);
        let j = Joint::normalized(m, labels(5), labels(3)).unwrap().joint;
        let i_xy = info::mutual_information(&j);
        let s = solve(
            &Ib,
            &j,
            &1e4,
            Init::Identity.encoder(5, 5).unwrap(),
            &stop,
            &MergeTol::for_stop(&stop),
            &mut (),
        );
        assert!((s.i_ty - i_xy).abs() < 1e-9, "seed {seed}");
        assert_eq!(s.clusters.len(), 5);
    }
    // Very large beta stays finite and exact (log-domain update).
    let j = dsbs::<f64>("0.1");
    let s = solve(
        &Ib,
        &j,
        &1e6,
        Init::Identity.encoder(2, 2).unwrap(),
        &stop,
        &MergeTol::for_stop(&stop),
        &mut (),
    );
    assert_eq!(s.termination, Termination::Converged);
    assert!((s.i_ty - info::mutual_information(&j)).abs() < 1e-15);
}

#[test]
fn binary_erasure_channel_jumps_from_trivial_to_identity() {
    // I(T;Y) = (1 − e) I(X;T) for every encoder: trivial below 1/(1−e), T = X above.
    let text = "0.18,0.12,0\n0,0.28,0.42\n";
    let j = parse_joint::<f64>("bec", text, &ReadOptions::default())
        .unwrap()
        .joint;
    // T = X is reached only in the limit; a leftover weight e on the wrong cluster costs
    // about e ln(1/e) in I(X;T), so converge to 1e-14 to check I(X;T) to 1e-11.
    let stop = Stop::new(100_000, 1e-14);
    let h_x = info::h_x(&j);
    for seed in 0..3 {
        let init = Init::<f64>::Random { seed }.encoder(2, 2).unwrap();
        let s = solve(
            &Ib,
            &j,
            &1.6,
            init.clone(),
            &stop,
            &MergeTol::for_stop(&stop),
            &mut (),
        );
        assert!(s.i_xt < 1e-9, "beta 1.6");
        let s = solve(
            &Ib,
            &j,
            &1.7,
            init,
            &stop,
            &MergeTol::for_stop(&stop),
            &mut (),
        );
        assert!((s.i_xt - h_x).abs() < 1e-9, "beta 1.7: {} vs {h_x}", s.i_xt);
        assert!((s.i_xt - 0.610864302055).abs() < 1e-11);
        assert!((s.i_ty - 0.6 * s.i_xt).abs() < 1e-12);
    }
}

#[test]
fn binary_x_exact_envelope_is_reached_by_restarts() {
    // spec ib §3.1/§4.4: p(x=1) = 0.1, p(y=1|x) = (0.2, 0.9); at beta = 3.5 the exact
    // minimum is L* = −0.04546228056164511 (mpmath common tangent), with
    // I(X;T) = 0.2208998101503097 and I(T;Y) = 0.07610345448912993 nats.
    let j = parse_joint::<f64>("bx", "0.72,0.18\n0.01,0.09\n", &ReadOptions::default())
        .unwrap()
        .joint;
    let stop = Stop::default();
    let (s, _) = solve_restarts(&Ib, &j, &3.5, 2, 1, 16, &stop, &MergeTol::for_stop(&stop));
    assert!(
        (s.objective - -0.04546228056164511).abs() < 1e-10,
        "{}",
        s.objective
    );
    assert!((s.i_xt - 0.2208998101503097).abs() < 1e-8);
    assert!((s.i_ty - 0.07610345448912993).abs() < 1e-8);
}

/// L_DIB = H(T) − β I(T;Y) of a hard assignment, computed directly (nats).
fn dib_objective(j: &Joint<f64>, assign: &[usize], nt: usize, beta: f64) -> f64 {
    let (nx, ny) = (j.nx(), j.ny());
    let mut q_ty = DMatrix::<f64>::zeros(nt, ny);
    for x in 0..nx {
        for y in 0..ny {
            q_ty[(assign[x], y)] += j.p_xy()[(x, y)];
        }
    }
    let q_t: Vec<f64> = (0..nt).map(|t| q_ty.row(t).sum()).collect();
    let h_t = info::entropy(&q_t);
    let mut i_ty = 0.0;
    for t in 0..nt {
        for y in 0..ny {
            let v = q_ty[(t, y)];
            if v > 0.0 {
                i_ty += v * (v / (q_t[t] * j.p_y()[y])).ln();
            }
        }
    }
    h_t - beta * i_ty
}

#[test]
fn dib_matches_brute_force_over_deterministic_encoders() {
    // Tiny alphabets: all nt^nx hard assignments. The DIB iteration is a coordinate
    // descent that can stop in a local optimum at intermediate beta (random_joint(5, 2, 22)
    // at beta = 1000: the identity partition is a fixed point with L = −61.0993, while
    // merging x2 with x3 gives −61.1587, because the move is judged against the current
    // decoder). So: never below the brute-force minimum at any beta, and equal to it at
    // large beta, and at every beta for the joint with duplicated rows.
    let stop = Stop::default();
    let cases = [
        // Two pairs of identical rows: the optimum merges each pair.
        DMatrix::from_row_slice(
            4,
            3,
            &[
                0.1, 0.1, 0.05, 0.1, 0.1, 0.05, 0.02, 0.08, 0.15, 0.02, 0.08, 0.15,
            ],
        ),
        random_joint(4, 3, 21),
        random_joint(5, 2, 22),
    ];
    for (k, m) in cases.into_iter().enumerate() {
        let (nx, ny) = m.shape();
        let j = Joint::normalized(m, labels(nx), labels(ny)).unwrap().joint;
        for beta in [5.0, 20.0, 100.0, 1000.0, 1e4, 1e5] {
            let nt = nx;
            let mut best = f64::INFINITY;
            let mut assign = vec![0usize; nx];
            loop {
                best = best.min(dib_objective(&j, &assign, nt, beta));
                let mut i = 0;
                while i < nx {
                    assign[i] += 1;
                    if assign[i] < nt {
                        break;
                    }
                    assign[i] = 0;
                    i += 1;
                }
                if i == nx {
                    break;
                }
            }
            // The DIB iteration is a coordinate descent and can stop in a local optimum:
            // take the best of the identity start and 32 random starts.
            let dib = GeneralizedIb::deterministic();
            let merge = MergeTol::for_stop(&stop);
            let from_identity = solve(
                &dib,
                &j,
                &beta,
                Init::Identity.encoder(nx, nt).unwrap(),
                &stop,
                &merge,
                &mut (),
            );
            let (from_random, _) = solve_restarts(&dib, &j, &beta, nt, 0, 32, &stop, &merge);
            let s = if from_random.objective < from_identity.objective {
                from_random
            } else {
                from_identity
            };
            assert_eq!(s.termination, Termination::Converged);
            let tol = 1e-13 * best.abs().max(1.0);
            assert!(s.objective >= best - tol, "no encoder beats brute force");
            if k == 0 || beta >= 1e4 {
                assert!(
                    (s.objective - best).abs() < tol,
                    "case {k}, beta {beta}: DIB {} vs brute force {best}",
                    s.objective
                );
            }
            // The DIB encoder is hard.
            assert!(s.q_t_given_x.iter().all(|&v| v == 0.0 || v == 1.0));
        }
    }
}

#[test]
fn dual_ib_leaves_the_trivial_solution_at_its_closed_form_threshold() {
    // DSBS: beta_c^dual = 4 / ln^2((1−p)/p) (spec ib §3.6), 0.828535449690223 for p = 0.1,
    // below 1 (the IB never leaves the trivial solution below 1).
    let p = dsbs::<f64>("0.1");
    let beta_c = 4.0 / (9.0f64).ln().powi(2);
    assert!((beta_c - 0.828535449690223).abs() < 1e-14);
    let stop = Stop::new(200_000, 1e-13);
    let start = DMatrix::from_row_slice(2, 2, &[0.5 + 1e-3, 0.5 - 1e-3, 0.5 - 1e-3, 0.5 + 1e-3]);
    let below = solve(
        &DualIb,
        &p,
        &(0.98 * beta_c),
        start.clone(),
        &stop,
        &MergeTol::for_stop(&stop),
        &mut (),
    );
    let above = solve(
        &DualIb,
        &p,
        &(1.02 * beta_c),
        start,
        &stop,
        &MergeTol::for_stop(&stop),
        &mut (),
    );
    assert!(below.i_xt < 1e-9, "below: {}", below.i_xt);
    assert!(above.i_xt > 1e-4, "above: {}", above.i_xt);
    assert_eq!(above.clusters.len(), 2);
}
