//! Properties of the IB, dual-IB and DIB iterations: monotone objectives, information
//! inequalities, fixed-point equations checked by independent implementations, the dual
//! IB's exponential-family preservation, precision agreement, thread independence, and
//! finiteness for extreme beta and exact zeros.

mod common;

use common::{dual_step, ib_step, labels, random_joint, SmallJoint};
use ibex::bottleneck::{cluster_marginal, Bottleneck};
use ibex::dib::GeneralizedIb;
use ibex::dual_ib::{geometric_decoder, DualIb};
use ibex::ib::Ib;
use ibex::info;
use ibex::scalar::{Mp512, Real};
use ibex::solve::{
    solve, solve_restarts, Acceleration, Init, IterEvent, MergeTol, Observer, Solution, Stop,
    Termination,
};
use ibex::Joint;
use nalgebra::DMatrix;
use quickcheck::quickcheck;

/// Records the objective after every iteration.
#[derive(Default)]
struct Objectives(Vec<f64>);

impl Observer for Objectives {
    fn wants_objective(&self) -> bool {
        true
    }
    fn iter(&mut self, e: &IterEvent) {
        self.0.push(e.objective.unwrap());
    }
}

fn run<B: Bottleneck<f64>>(
    method: &B,
    j: &Joint<f64>,
    beta: f64,
    seed: u64,
    obs: &mut impl Observer,
) -> Solution<f64> {
    run_with(method, j, beta, seed, obs, Acceleration::Squarem)
}

fn run_with<B: Bottleneck<f64>>(
    method: &B,
    j: &Joint<f64>,
    beta: f64,
    seed: u64,
    obs: &mut impl Observer,
    acceleration: Acceleration,
) -> Solution<f64> {
    let stop = Stop::new(300, 1e-12).with_acceleration(acceleration);
    let init = Init::<f64>::Random { seed }
        .encoder(j.nx(), j.nx())
        .unwrap();
    solve(
        method,
        j,
        &beta,
        init,
        &stop,
        &MergeTol::for_stop(&stop),
        obs,
    )
}

fn non_increasing(values: &[f64]) -> bool {
    values
        .windows(2)
        .all(|w| w[1] <= w[0] + 1e-12 * w[0].abs().max(1.0))
}

fn beta_from(b: u8) -> f64 {
    0.5 + (b as f64) / 8.0
}

quickcheck! {
    /// The IB Lagrangian L = I(X;T) − β I(T;Y) never increases along the iteration;
    /// neither do the dual IB's F and the generalised IB's L_α (each block is an exact
    /// minimisation).
    /// Checked for the plain map (a property of the Blahut-Arimoto blocks) and for the
    /// SQUAREM and Anderson drivers (a property of their objective guards), over the
    /// accepted iterates.
    fn objectives_never_increase(p: SmallJoint, b: u8, seed: u64) -> bool {
        let j = p.joint();
        let beta = beta_from(b);
        [Acceleration::None, Acceleration::Squarem, Acceleration::Anderson].into_iter().all(|a| {
            let mut ib = Objectives::default();
            run_with(&Ib, &j, beta, seed, &mut ib, a);
            let mut gen = Objectives::default();
            run_with(&GeneralizedIb { alpha: 0.5 }, &j, beta, seed, &mut gen, a);
            let mut dib = Objectives::default();
            run_with(&GeneralizedIb::deterministic(), &j, beta, seed, &mut dib, a);
            !ib.0.is_empty()
                && !gen.0.is_empty()
                && !dib.0.is_empty()
                && non_increasing(&ib.0)
                && non_increasing(&gen.0)
                && non_increasing(&dib.0)
        })
    }

    /// The same for the dual IB on joints with full support (it is undefined for clusters
    /// whose members' supports of p(y|x) do not intersect).
    fn dual_objective_never_increases(seed: u64, b: u8) -> bool {
        let (nx, ny) = (2 + (seed % 4) as usize, 2 + (seed % 3) as usize);
        let j = Joint::normalized(random_joint(nx, ny, seed), labels(nx), labels(ny)).unwrap().joint;
        [Acceleration::None, Acceleration::Squarem, Acceleration::Anderson].into_iter().all(|a| {
            let mut dual = Objectives::default();
            run_with(&DualIb, &j, beta_from(b), seed, &mut dual, a);
            !dual.0.is_empty() && non_increasing(&dual.0)
        })
    }

    /// 0 <= I(T;Y) <= min(I(X;T), I(X;Y)), I(X;T) <= H(X), rows of the encoder sum to 1.
    fn information_inequalities(p: SmallJoint, b: u8, seed: u64) -> bool {
        let j = p.joint();
        let i_xy = info::mutual_information(&j);
        let h_x = info::h_x(&j);
        [&run(&Ib, &j, beta_from(b), seed, &mut ()), &run(&GeneralizedIb::deterministic(), &j, beta_from(b), seed, &mut ())]
            .iter()
            .all(|s| {
                s.i_ty >= 0.0
                    && s.i_ty <= s.i_xt.min(i_xy) + 1e-12
                    && s.i_xt <= h_x + 1e-12
                    && s.q_t_given_x.row_iter().all(|r| (r.sum() - 1.0).abs() < 1e-12)
            })
    }

    /// IB and DIB stay finite and terminate normally for beta from 1e-3 to 1e6, on joints
    /// with exact zeros.
    fn finite_for_extreme_beta(p: SmallJoint, seed: u64) -> bool {
        let j = p.joint();
        [1e-3, 1.0, 37.0, 1e3, 1e6].iter().all(|&beta| {
            [run(&Ib, &j, beta, seed, &mut ()), run(&GeneralizedIb::deterministic(), &j, beta, seed, &mut ())]
                .iter()
                .all(|s| {
                    s.termination != Termination::NonFinite
                        && s.i_xt.is_finite()
                        && s.i_ty.is_finite()
                        && s.objective.is_finite()
                        && s.q_t_given_x.iter().all(|v| v.is_finite())
                })
        })
    }
}

#[test]
fn tiny_cells_and_extreme_beta_stay_finite_for_all_methods() {
    let m = DMatrix::from_row_slice(
        3,
        3,
        &[1e-40, 0.3, 0.2, 0.2, 1e-40, 0.1, 0.1, 0.1, 0.2 - 2e-40],
    );
    let j = Joint::normalized(m, labels(3), labels(3)).unwrap().joint;
    for beta in [1e-3, 0.5, 3.0, 1e3, 1e6] {
        for s in [
            run(&Ib, &j, beta, 1, &mut ()),
            run(&DualIb, &j, beta, 1, &mut ()),
            run(&GeneralizedIb::deterministic(), &j, beta, 1, &mut ()),
            run(&GeneralizedIb { alpha: 0.3 }, &j, beta, 1, &mut ()),
        ] {
            assert_ne!(
                s.termination,
                Termination::NonFinite,
                "{} beta {beta}",
                s.method
            );
            assert!(s.objective.is_finite() && s.i_xt.is_finite() && s.i_ty.is_finite());
        }
    }
}

/// Solves to convergence and checks the fixed-point equation with an independent step.
#[test]
fn converged_solutions_satisfy_the_fixed_point_equations() {
    let stop = Stop::new(200_000, 1e-13);
    for seed in 1..=6u64 {
        let (nx, ny) = (3 + (seed % 3) as usize, 2 + (seed % 4) as usize);
        let j = Joint::normalized(random_joint(nx, ny, seed), labels(nx), labels(ny))
            .unwrap()
            .joint;
        let beta = 2.0 + seed as f64;
        let init = Init::<f64>::Random { seed }.encoder(nx, nx).unwrap();
        let merge = MergeTol::for_stop(&stop);
        // IB: q = step(q) by the plain implementation in tests/common.
        let s = solve(&Ib, &j, &beta, init.clone(), &stop, &merge, &mut ());
        assert_eq!(s.termination, Termination::Converged);
        let again = ib_step(j.p_xy(), beta, &s.q_t_given_x);
        assert!(
            (again - &s.q_t_given_x).abs().max() < 1e-11,
            "IB seed {seed}"
        );
        // Dual IB.
        let s = solve(&DualIb, &j, &beta, init.clone(), &stop, &merge, &mut ());
        assert_eq!(s.termination, Termination::Converged);
        let again = dual_step(j.p_xy(), beta, &s.q_t_given_x);
        assert!(
            (again - &s.q_t_given_x).abs().max() < 1e-11,
            "dual seed {seed}"
        );
        // DIB: every x sits in a cluster maximising ln q(t) − β KL[p(y|x) ‖ q(y|t)],
        // recomputed here from the definitions.
        let s = solve(
            &GeneralizedIb::deterministic(),
            &j,
            &beta,
            init,
            &stop,
            &merge,
            &mut (),
        );
        assert_eq!(s.termination, Termination::Converged);
        let q = &s.q_t_given_x;
        let q_t = cluster_marginal(&j, q);
        for x in 0..nx {
            let own = (0..nx).find(|&t| q[(x, t)] == 1.0).unwrap();
            let score = |t: usize| {
                let kl: f64 = (0..ny)
                    .map(|y| {
                        let pyx = j.p_y_given_x()[(x, y)];
                        let qyt = (0..nx)
                            .map(|x2| j.p_xy()[(x2, y)] * q[(x2, t)])
                            .sum::<f64>()
                            / q_t[t];
                        pyx * (pyx / qyt).ln()
                    })
                    .sum();
                q_t[t].ln() - beta * kl
            };
            for t in (0..nx).filter(|&t| q_t[t] > 0.0) {
                assert!(
                    score(t) <= score(own) + 1e-12,
                    "DIB seed {seed}: x {x} prefers {t}"
                );
            }
        }
    }
}

#[test]
fn dual_decoder_preserves_exponential_families() {
    // p(y|x) = exp(−Σ_r λ_r(y) A_r(x)) / Z(x) ⇒ the geometric decoder is
    // exp(−Σ_r λ_r(y) A_r(t)) / Z(A(t)) with A_r(t) = Σ_x q(x|t) A_r(x) (spec ib §2.5).
    let (nx, ny, nr, nt) = (5, 4, 2, 3);
    let lambda = DMatrix::from_fn(ny, nr, |y, r| ((y * 3 + r * 5) % 7) as f64 / 7.0 - 0.4);
    let a = DMatrix::from_fn(nx, nr, |x, r| ((x * 5 + r * 2) % 9) as f64 / 4.0 - 1.0);
    let p_x = [0.1, 0.3, 0.2, 0.25, 0.15];
    let family = |ax: &[f64]| -> Vec<f64> {
        let w: Vec<f64> = (0..ny)
            .map(|y| (-(0..nr).map(|r| lambda[(y, r)] * ax[r]).sum::<f64>()).exp())
            .collect();
        let z: f64 = w.iter().sum();
        w.iter().map(|v| v / z).collect()
    };
    let p_xy = DMatrix::from_fn(nx, ny, |x, y| {
        let ax: Vec<f64> = (0..nr).map(|r| a[(x, r)]).collect();
        p_x[x] * family(&ax)[y]
    });
    let j = Joint::normalized(p_xy, labels(nx), labels(ny))
        .unwrap()
        .joint;
    let q = Init::<f64>::Random { seed: 3 }.encoder(nx, nt).unwrap();
    let q_t = cluster_marginal(&j, &q);
    let (dec, _) = geometric_decoder(&j, &q, &q_t);
    for t in 0..nt {
        let at: Vec<f64> = (0..nr)
            .map(|r| {
                (0..nx)
                    .map(|x| j.p_x()[x] * q[(x, t)] / q_t[t] * a[(x, r)])
                    .sum()
            })
            .collect();
        let want = family(&at);
        for (y, w) in want.iter().enumerate() {
            assert!((dec.q_y_given_t()[(t, y)] - w).abs() < 1e-15, "t {t} y {y}");
        }
    }
}

#[test]
fn f64_agrees_with_512_bits() {
    for seed in 1..=4u64 {
        let j = Joint::normalized(random_joint(4, 3, seed), labels(4), labels(3))
            .unwrap()
            .joint;
        let j512: Joint<Mp512> = j.convert();
        let beta = 6.0;
        let init = Init::<f64>::Random { seed }.encoder(4, 2).unwrap();
        let init512 = init.map(Mp512::from_f64);
        let stop = Stop::<f64>::new(100_000, 1e-13);
        let stop512 = Stop::<Mp512>::new(100_000, Mp512::parse("1e-40").unwrap());
        let a = solve(
            &Ib,
            &j,
            &beta,
            init,
            &stop,
            &MergeTol::for_stop(&stop),
            &mut (),
        );
        let b = solve(
            &Ib,
            &j512,
            &Mp512::from_f64(beta),
            init512,
            &stop512,
            &MergeTol::for_stop(&stop512),
            &mut (),
        );
        assert_eq!(a.termination, Termination::Converged);
        assert_eq!(b.termination, Termination::Converged);
        assert!((a.i_xt - b.i_xt.to_f64()).abs() < 1e-11, "seed {seed}");
        assert!((a.i_ty - b.i_ty.to_f64()).abs() < 1e-11, "seed {seed}");
        assert!(
            (a.objective - b.objective.to_f64()).abs() < 1e-11,
            "seed {seed}"
        );
    }
}

#[test]
fn restarts_do_not_depend_on_the_number_of_threads() {
    let j = Joint::normalized(random_joint(6, 4, 9), labels(6), labels(4))
        .unwrap()
        .joint;
    let stop = Stop::default();
    let merge = MergeTol::for_stop(&stop);
    let with_threads = |n: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .unwrap()
            .install(|| solve_restarts(&Ib, &j, &4.0, 6, 5, 8, &stop, &merge))
    };
    let (one, seed_one) = with_threads(1);
    let (two, seed_two) = with_threads(2);
    assert_eq!(seed_one, seed_two);
    assert_eq!(one.objective.to_bits(), two.objective.to_bits());
    assert_eq!(one.q_t_given_x, two.q_t_given_x);
}

/// The decoder reported for a distinct cluster (JSON, decoders.csv, the bifurcation
/// diagram) is the Markov decoder of its merged column, recomputed here from p(x,y) and
/// the summed member columns: q(y|t) = Σ_x p(x,y) Q(t|x) / Σ_x p(x) Q(t|x). The solve is
/// stopped after two steps from a random start and merged with a loose decoder tolerance,
/// so that members' decoders differ and a first-member or unweighted decoder would fail.
#[test]
fn distinct_decoders_are_the_merged_columns_markov_decoders() {
    let j = Joint::normalized(random_joint(4, 3, 7), labels(4), labels(3))
        .unwrap()
        .joint;
    let stop = Stop::new(2, 1e-12).with_acceleration(Acceleration::None);
    let merge = MergeTol {
        mass: 1e-12,
        decoder: 0.5,
    };
    let init = Init::<f64>::Random { seed: 3 }.encoder(4, 8).unwrap();
    let s = solve(&Ib, &j, &3.0, init, &stop, &merge, &mut ());
    let decoders = s.distinct_decoders();
    assert_eq!(decoders.shape(), (s.clusters.len(), 3));
    let mut members_differ = false;
    for (t, (_, members)) in s.clusters.iter().enumerate() {
        let column: Vec<f64> = (0..4)
            .map(|x| members.iter().map(|&m| s.q_t_given_x[(x, m)]).sum())
            .collect();
        let mass: f64 = (0..4).map(|x| j.p_x()[x] * column[x]).sum();
        for y in 0..3 {
            let want = (0..4).map(|x| j.p_xy()[(x, y)] * column[x]).sum::<f64>() / mass;
            assert!(
                (decoders[(t, y)] - want).abs() < 1e-13,
                "cluster {t}, y {y}: {} vs {want}",
                decoders[(t, y)]
            );
            members_differ |= members
                .iter()
                .any(|&m| (s.q_y_given_t[(m, y)] - want).abs() > 1e-6);
        }
    }
    assert!(
        members_differ,
        "the test needs members with unequal decoders"
    );
}
