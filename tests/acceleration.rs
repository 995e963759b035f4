//! The SQUAREM and Anderson drivers and the merging sweep solver change how a fixed point
//! is reached, never which: checked against the plain iteration, against the fixed-point equation of
//! the independent step in tests/common, and against the closed-form DSBS curve.

mod common;

use common::{h2, h2_inverse, ib_step, labels, random_joint};
use ibex::anneal::{solve_merging, AnnealOptions};
use ibex::bottleneck::Bottleneck;
use ibex::dib::GeneralizedIb;
use ibex::dual_ib::DualIb;
use ibex::ib::Ib;
use ibex::io::{read_joint, ReadOptions};
use ibex::solve::{solve, Acceleration, Init, MergeTol, Solution, Stop, Termination};
use ibex::{Joint, MaximalCorrelation};
use nalgebra::DMatrix;

fn solve_with<B: Bottleneck<f64>>(
    method: &B,
    j: &Joint<f64>,
    beta: f64,
    init: DMatrix<f64>,
    acceleration: Acceleration,
) -> Solution<f64> {
    let stop = Stop::new(400_000, 1e-13).with_acceleration(acceleration);
    solve(
        method,
        j,
        &beta,
        init,
        &stop,
        &MergeTol::for_stop(&stop),
        &mut (),
    )
}

fn same_point(a: &Solution<f64>, b: &Solution<f64>, what: &str) {
    let scale = a.objective.abs().max(1.0);
    assert!(
        (a.objective - b.objective).abs() < 1e-10 * scale,
        "{what}: objective {} vs {}",
        a.objective,
        b.objective
    );
    assert!((a.i_xt - b.i_xt).abs() < 1e-7, "{what}: I(X;T)");
    assert!((a.i_ty - b.i_ty).abs() < 1e-7, "{what}: I(T;Y)");
    assert_eq!(a.clusters.len(), b.clusters.len(), "{what}: clusters");
}

/// IB, dual IB and generalised IB from the identity start: each accelerated driver and the
/// plain iteration end at the same fixed point, and the accelerated IB one satisfies the
/// fixed-point equation of the independent step to 1e-11.
#[test]
fn accelerated_drivers_reach_the_fixed_point_of_the_plain_iteration() {
    for seed in 1..=5u64 {
        let (nx, ny) = (3 + (seed % 4) as usize, 2 + (seed % 3) as usize);
        let j = Joint::normalized(random_joint(nx, ny, seed), labels(nx), labels(ny))
            .unwrap()
            .joint;
        for beta in [1.5, 4.0, 20.0] {
            let init = Init::<f64>::Identity.encoder(nx, nx).unwrap();
            let plain_ib = solve_with(&Ib, &j, beta, init.clone(), Acceleration::None);
            let plain_dual = solve_with(&DualIb, &j, beta, init.clone(), Acceleration::None);
            let gen = GeneralizedIb { alpha: 0.5 };
            let plain_gen = solve_with(&gen, &j, beta, init.clone(), Acceleration::None);
            assert_eq!(plain_ib.termination, Termination::Converged);
            for accel in [Acceleration::Squarem, Acceleration::Anderson] {
                let what = format!("{} seed {seed} beta {beta}", accel.as_str());
                let fast = solve_with(&Ib, &j, beta, init.clone(), accel);
                assert_eq!(fast.termination, Termination::Converged, "{what}");
                same_point(&fast, &plain_ib, &format!("IB {what}"));
                let again = ib_step(j.p_xy(), beta, &fast.q_t_given_x);
                assert!(
                    (again - &fast.q_t_given_x).abs().max() < 1e-11,
                    "IB {what}: not a fixed point"
                );
                let fast = solve_with(&DualIb, &j, beta, init.clone(), accel);
                same_point(&fast, &plain_dual, &format!("dual IB {what}"));
                let fast = solve_with(&gen, &j, beta, init.clone(), accel);
                same_point(&fast, &plain_gen, &format!("generalised IB {what}"));
            }
        }
    }
}

/// Critical slowing down: just below the first split of the 3x3 example, 1/rho_m^2
/// (spec ib §3.4: plain iteration needs about 12-16/eps steps at beta = (1 - eps)/rho_m^2),
/// from a nudged two-cluster start. SQUAREM must reach the same point (the trivial
/// solution, to the tolerance) in far fewer map evaluations, and so must Anderson: this is a count of
/// evaluations, deterministic, not a timing.
#[test]
fn acceleration_beats_critical_slowing_down_below_the_first_split() {
    let path = format!("{}/data/examples/ib_3x3.csv", env!("CARGO_MANIFEST_DIR"));
    let j = read_joint::<f64>(path.as_ref(), &ReadOptions::default())
        .unwrap()
        .joint;
    let rho2 = MaximalCorrelation::of(&j).rho_m.powi(2);
    let beta = (1.0 - 1e-3) / rho2;
    let init = DMatrix::from_row_slice(3, 2, &[0.51, 0.49, 0.5, 0.5, 0.49, 0.51]);
    let plain = solve_with(&Ib, &j, beta, init.clone(), Acceleration::None);
    assert_eq!(plain.termination, Termination::Converged);
    assert!(
        plain.iterations > 10_000,
        "plain: {} iterations",
        plain.iterations
    );
    for accel in [Acceleration::Squarem, Acceleration::Anderson] {
        let fast = solve_with(&Ib, &j, beta, init.clone(), accel);
        assert_eq!(fast.termination, Termination::Converged);
        assert_eq!(fast.clusters.len(), 1);
        assert!(fast.i_xt < 1e-12, "I(X;T) = {}", fast.i_xt);
        assert!(
            fast.iterations * 10 < plain.iterations,
            "{} {} vs plain {} evaluations",
            accel.as_str(),
            fast.iterations,
            plain.iterations
        );
    }
}

/// The DSBS, whose IB curve is Mrs. Gerber's closed form: the accelerated solution lies on
/// it (I(T;Y) = 1 − h(e ⋆ h^-1(1 − I(X;T))) in bits) to 1e-10 nats, at the point of the
/// curve that belongs to its beta. Every symmetric encoder lies on the curve (after one
/// evaluation from the identity start too), so the curve alone shows only symmetry: the
/// point's beta(q) = ln((1−q)/q) / ((1−2e) ln((1−s)/s)), s = e⋆q, q = h^-1(1 − I(X;T))
/// (spec ib §4.1) must equal the beta solved for.
#[test]
fn accelerated_solutions_lie_on_the_dsbs_closed_form() {
    let e = 0.1f64;
    let p = DMatrix::from_row_slice(2, 2, &[(1.0 - e) / 2.0, e / 2.0, e / 2.0, (1.0 - e) / 2.0]);
    let j = Joint::normalized(p, labels(2), labels(2)).unwrap().joint;
    for (beta, accel) in [1.7, 3.0, 10.0]
        .into_iter()
        .flat_map(|b| [(b, Acceleration::Squarem), (b, Acceleration::Anderson)])
    {
        let init = Init::<f64>::Identity.encoder(2, 2).unwrap();
        let s = solve_with(&Ib, &j, beta, init, accel);
        assert_eq!(s.termination, Termination::Converged);
        // h2 and h2_inverse work in bits.
        let i_xt_bits = s.i_xt / std::f64::consts::LN_2;
        let q = h2_inverse(&(1.0 - i_xt_bits));
        let star = e * (1.0 - q) + q * (1.0 - e);
        let curve = (1.0 - h2(&star)) * std::f64::consts::LN_2;
        assert!(
            (s.i_ty - curve).abs() < 1e-10,
            "beta {beta}: {} vs {curve}",
            s.i_ty
        );
        let beta_of_q = ((1.0 - q) / q).ln() / ((1.0 - 2.0 * e) * ((1.0 - star) / star).ln());
        assert!(
            (beta_of_q - beta).abs() < 1e-7 * beta,
            "beta {beta}: the point belongs to beta {beta_of_q}"
        );
    }
}

/// Merging clusters while iterating (the down sweep, starts from T = X) ends at the same
/// point as iterating all |X| columns to convergence, with one column per distinct cluster.
#[test]
fn merging_solver_reaches_the_unmerged_fixed_point() {
    let path = format!(
        "{}/data/examples/dirichlet_64x16_seed1.csv",
        env!("CARGO_MANIFEST_DIR")
    );
    let j = read_joint::<f64>(path.as_ref(), &ReadOptions::default())
        .unwrap()
        .joint;
    let stop = Stop::new(400_000, 1e-12);
    let options = AnnealOptions {
        max_points: 10,
        ..AnnealOptions::new(stop.clone())
    };
    for beta in [4.0, 10.0, 40.0] {
        let init = Init::<f64>::Identity.encoder(j.nx(), j.nx()).unwrap();
        let merged = solve_merging(&Ib, &j, &beta, init.clone(), &options);
        let full = solve(&Ib, &j, &beta, init, &stop, &options.merge, &mut ());
        assert_eq!(merged.termination, Termination::Converged, "beta {beta}");
        assert_eq!(full.termination, Termination::Converged, "beta {beta}");
        same_point(&merged, &full, &format!("beta {beta}"));
        assert_eq!(
            merged.q_t_given_x.ncols(),
            merged.clusters.len(),
            "beta {beta}: columns left unmerged"
        );
    }
}

/// Records every accepted iterate's objective.
struct Objectives(Vec<f64>);

impl ibex::solve::Observer for Objectives {
    fn wants_objective(&self) -> bool {
        true
    }
    fn iter(&mut self, event: &ibex::solve::IterEvent) {
        self.0.push(event.objective.expect("asked for"));
    }
}

/// On the discretised Gaussian near beta = 4.3 the landscape is so flat that a plain step
/// lowers the objective by about 1e-15, less than the rounding slack (1e3·epsilon·|L|,
/// 3.7e-13) the accelerated drivers allow a candidate. Measured against the previous
/// iterate, that slack let Anderson climb by 2e-10 in 20,000 evaluations; measured
/// against the lowest objective so far, no accepted iterate may exceed it by more than
/// the slack. A plain step is not guarded (it lowers the objective in exact arithmetic;
/// guarding it would cost an evaluation), so an iterate reached by one may exceed the
/// lowest by the slack plus the rounding of two evaluations of the objective (allowed
/// here as 1e2·epsilon·|L|; Anderson's iterates are the points it steps from, whose
/// objective its guard has computed anyway).
#[test]
fn accelerated_drivers_never_climb_above_their_lowest_objective() {
    let file = read_joint::<f64>(
        &common::example("gaussian_rho0.9_n32.csv"),
        &ReadOptions::default(),
    )
    .unwrap();
    let j = file.joint;
    let beta = 4.29;
    // A state deep in the slow regime: the merging solver from T = X, 60,000 evaluations.
    let options = AnnealOptions {
        max_points: 1,
        ..AnnealOptions::new(Stop::new(60_000, 1e-10))
    };
    let identity = Init::<f64>::Identity.encoder(j.nx(), j.nx()).unwrap();
    let start = solve_merging(&Ib, &j, &beta, identity, &options);
    assert_eq!(start.termination, Termination::MaxIter, "still slow");
    for acceleration in [Acceleration::Anderson, Acceleration::Squarem] {
        let stop = Stop::new(20_000, 1e-10).with_acceleration(acceleration);
        let mut seen = Objectives(Vec::new());
        solve(
            &Ib,
            &j,
            &beta,
            start.q_t_given_x.clone(),
            &stop,
            &MergeTol::for_stop(&stop),
            &mut seen,
        );
        let mut lowest = f64::INFINITY;
        for (n, f) in seen.0.iter().enumerate() {
            let slack = 1.1e3 * f64::EPSILON * f.abs().max(1.0);
            assert!(
                *f <= lowest + slack,
                "{acceleration:?}, iterate {n}: {f} above the lowest {lowest} by {:e}",
                f - lowest
            );
            lowest = lowest.min(*f);
        }
    }
}

/// Just below the learning onset of the binary-X hysteresis example (1/eta_KL = 2.55898),
/// a light cluster dies out only geometrically (its growth factor c(q) is just below 1).
/// The merging solver removes it once the iteration has settled and it keeps shrinking,
/// and lands on the trivial solution (L = 0 exactly, the optimum below the onset). The
/// plain iteration gets there in the limit: at tol 1e-10 it stops with the cluster still
/// at mass 1.5e-9 (each step moves q(t|x) by less than tol), at tol 1e-15 it takes far
/// more evaluations.
#[test]
fn merging_solver_removes_a_cluster_that_dies_out_slowly() {
    let j = Joint::normalized(
        DMatrix::from_row_slice(2, 2, &[0.72, 0.18, 0.01, 0.09]),
        labels(2),
        labels(2),
    )
    .unwrap()
    .joint;
    let beta = 2.55;
    // A nucleus of mass ~1e-5 at the rare input's decoder p(y|x=1).
    let nucleus = [0.1, 0.9];
    let weight = |x: usize| {
        let row = [j.p_y_given_x()[(x, 0)], j.p_y_given_x()[(x, 1)]];
        let kl: f64 = (0..2).map(|y| row[y] * (row[y] / nucleus[y]).ln()).sum();
        1e-4 * (-beta * kl).exp()
    };
    let start = DMatrix::from_fn(
        2,
        2,
        |x, t| if t == 1 { weight(x) } else { 1.0 - weight(x) },
    );
    let stop = Stop::new(400_000, 1e-10);
    let options = AnnealOptions {
        max_points: 1,
        ..AnnealOptions::new(stop.clone())
    };
    let merged = solve_merging(&Ib, &j, &beta, start.clone(), &options);
    let plain = solve(
        &Ib,
        &j,
        &beta,
        start,
        &Stop::new(400_000, 1e-15).with_acceleration(Acceleration::None),
        &MergeTol::for_stop(&stop),
        &mut (),
    );
    for s in [&merged, &plain] {
        assert_eq!(s.termination, Termination::Converged);
        assert_eq!(s.clusters.len(), 1, "{:?}", s.q_t);
        assert!(s.objective.abs() < 1e-13, "{}", s.objective);
    }
    assert!(
        merged.iterations * 5 < plain.iterations,
        "{} vs {}",
        merged.iterations,
        plain.iterations
    );
}

/// The drivers compute the decoder once per iterate and hand it to the quantities (for
/// I(T;Y)) when the method says it is the Markov decoder. That claim must be exact: the
/// IB and the generalised IB make it, and their decoders equal the Markov decoder of
/// tests/common's independent step; the dual IB's geometric decoder differs and must not.
#[test]
fn only_methods_whose_decoder_is_markov_say_so() {
    use ibex::bottleneck::cluster_marginal;
    for seed in 1..=4u64 {
        let (nx, ny) = (3 + seed as usize, 2 + (seed % 3) as usize);
        let j = Joint::normalized(random_joint(nx, ny, seed), labels(nx), labels(ny))
            .unwrap()
            .joint;
        let q = Init::<f64>::Random { seed }.encoder(nx, 3).unwrap();
        let q_t = cluster_marginal(&j, &q);
        // q(y|t) = Σ_x p(x,y) q(t|x) / q(t), written out.
        let markov = DMatrix::from_fn(3, ny, |t, y| {
            (0..nx).map(|x| j.p_xy()[(x, y)] * q[(x, t)]).sum::<f64>() / q_t[t]
        });
        let check = |name: &str, claims: bool, decoder: DMatrix<f64>| {
            let gap = (decoder - &markov).abs().max();
            if claims {
                assert!(
                    gap < 1e-15,
                    "{name}: claims the Markov decoder, off by {gap}"
                );
            } else {
                assert!(
                    gap > 1e-6,
                    "{name}: has the Markov decoder but does not say so"
                );
            }
        };
        fn claim<B: Bottleneck<f64>>(m: &B) -> bool {
            m.decoder_is_markov()
        }
        check(
            "ib",
            claim(&Ib),
            Ib.decoder(&j, &q, &q_t).into_q_y_given_t(),
        );
        for alpha in [0.0, 0.5, 1.0] {
            let m = GeneralizedIb { alpha };
            check("dib", claim(&m), m.decoder(&j, &q, &q_t).into_q_y_given_t());
        }
        check(
            "dualib",
            claim(&DualIb),
            DualIb.decoder(&j, &q, &q_t).into_q_y_given_t(),
        );
        assert!(claim(&Ib) && !claim(&DualIb));
    }
}
