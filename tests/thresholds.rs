//! Onset constants of the trivial solution against the spec's mpmath oracles (spec ib §5,
//! rows 2-6, 9, 14, 15; produced by mpmath scripts, values copied here with their source).

use ibex::bifurcation::{
    dual_nucleation_constant, dual_split_eigenvalues, ib_split_eigenvalues, is_rounding_level,
    sdpi_constant, SupremumMethod,
};
use ibex::io::{read_joint, ReadOptions};
use ibex::scalar::{Mp256, Real};
use ibex::solve::Init;
use ibex::Joint;

fn example<T: Real>(name: &str) -> Joint<T> {
    let path = format!("{}/data/examples/{name}", env!("CARGO_MANIFEST_DIR"));
    read_joint::<T>(path.as_ref(), &ReadOptions::default())
        .unwrap()
        .joint
}

fn trivial<T: Real>(j: &Joint<T>) -> nalgebra::DMatrix<T> {
    Init::<T>::SingleCluster.encoder(j.nx(), 1).unwrap()
}

#[test]
fn ib_3x3_constants() {
    let j = example::<f64>("ib_3x3.csv");
    let lam = ib_split_eigenvalues(&j, &trivial(&j))[0].unwrap();
    assert!((lam - 0.4656982131846231).abs() < 1e-14);
    let s = sdpi_constant(&j);
    assert_eq!(s.method, SupremumMethod::SearchPolished);
    assert!((s.value - 0.4696086924944002).abs() < 1e-10, "{}", s.value);
    let ld = dual_split_eigenvalues(&j, &trivial(&j))[0].unwrap();
    assert!((ld - 0.538594263977604).abs() < 1e-13, "{ld}");
    let ed = dual_nucleation_constant(&j);
    assert!(
        (ed.value - 0.5406910667767655).abs() < 1e-10,
        "{}",
        ed.value
    );
}

#[test]
fn dualib_paper_example_constants() {
    let j = example::<f64>("dualib_5x2.csv");
    let lam = ib_split_eigenvalues(&j, &trivial(&j))[0].unwrap();
    assert!((1.0 / lam - 4.36546870552893).abs() < 1e-12);
    let s = sdpi_constant(&j);
    assert!(
        (1.0 / s.value - 4.36502752288767).abs() < 1e-9,
        "{}",
        1.0 / s.value
    );
    let ld = dual_split_eigenvalues(&j, &trivial(&j))[0].unwrap();
    assert!((1.0 / ld - 3.251675580997586).abs() < 1e-12, "{}", 1.0 / ld);
    let ed = dual_nucleation_constant(&j);
    assert!(
        (1.0 / ed.value - 3.223707852480898).abs() < 1e-9,
        "{}",
        1.0 / ed.value
    );
}

#[test]
fn binary_x_constants_at_256_bits() {
    let j = example::<Mp256>("binary_x_hysteresis.csv");
    let s = sdpi_constant(&j);
    assert_eq!(s.method, SupremumMethod::Exact1D);
    // spec: eta_KL = 0.3907806968453705 (16 digits, mpmath), a* = 0.9466386371138236.
    assert!((s.value.to_f64() - 0.3907806968453705).abs() < 1e-16);
    assert!((s.argmax[1].to_f64() - 0.9466386371138236).abs() < 1e-12);
}

// ---------------------------------------------------------------------------------------
// s* and η_dual at 256 bits for |X| > 2: the Nelder-Mead point polished by Newton.
//
// Oracle: data/reference/make_sdpi_reference.py (mpmath 1.3.0, Python 3.11.7, mp.dps = 80,
// mpmath.findroot on the gradient of the ratio in softmax coordinates, independent of
// ibex; for dualib_5x2 also the exact 1-D tilt reduction, which agrees to 1e-78). Command,
// from the repository root: `python3 data/reference/make_sdpi_reference.py`. Printed
// digits (70 significant) pasted here. The CSV decimals are read as exact numbers.
//
// Note: the spec's 16-digit values for the 3x3 (0.4696086924944002, 0.5406910667767655)
// are off by 2.7e-16 and 2.0e-15: oracle_eta_mp.py took the float64 table as exact input,
// whose sum is 1 + 3.5e-17, which shifts D(r||p_X) by that amount (D ≈ 0.01 at the argmax).
// ---------------------------------------------------------------------------------------

const S_3X3: &str = "0.4696086924944004660892009675917151950922195958779517359457235835517991";
const ETA_DUAL_3X3: &str =
    "0.5406910667767635323630549597162941509880413750343241281124909525771709";
const S_5X2: &str = "0.2290936299385469412051730857175038048581411977523236259419873527115523";
const ETA_DUAL_5X2: &str =
    "0.3102018066650862763205756621170411558381186441291023809043652024768352";

/// |value / oracle − 1| at 256 bits.
fn rel_err(value: &Mp256, oracle: &str) -> f64 {
    let o = Mp256::parse(oracle).unwrap();
    ((value.clone() - o.clone()) / o).abs().to_f64()
}

/// The 256-bit constant against the oracle (1e-30 relative), the f64 constant against it
/// (1e-12) and against the 256-bit one (`f64_ulps` units of f64 epsilon, relative), and
/// the check's own power: the oracle shifted by 1e-28 relative must fail it.
///
/// f64 precision here means the conditioning of the ratio: numerator and denominator are
/// divergences ≈ Σ b d²/2 (d = a/b − 1), each term computed to ≈ epsilon·|d|·b, so the
/// ratio's relative error is ≈ epsilon/|d|: a few epsilon on the 3x3 (|d| ≈ 0.1), tens on
/// the 5x2 (its argmax is within 0.5-5% of p_X).
fn check_polished(
    name: &str,
    f64_sup: ibex::bifurcation::Supremum<f64>,
    mp_sup: ibex::bifurcation::Supremum<Mp256>,
    oracle: &str,
    f64_ulps: f64,
) {
    for (m, pol) in [
        (
            f64_sup.method,
            f64_sup
                .polish
                .as_ref()
                .map(|p| (p.converged, p.residual.to_f64())),
        ),
        (
            mp_sup.method,
            mp_sup
                .polish
                .as_ref()
                .map(|p| (p.converged, p.residual.to_f64())),
        ),
    ] {
        assert_eq!(m, SupremumMethod::SearchPolished, "{name}: {pol:?}");
        assert!(pol.is_some_and(|(c, _)| c), "{name}: {pol:?}");
    }
    let pol = mp_sup.polish.as_ref().unwrap();
    assert!(
        pol.residual.to_f64() < 1e-60,
        "{name}: residual {}",
        pol.residual
    );
    let e = rel_err(&mp_sup.value, oracle);
    assert!(
        e < 1e-30,
        "{name}: Mp256 {} vs {oracle}: {e:e}",
        mp_sup.value
    );
    // The check has power: the f64 constant, right to about 1e-16, fails it.
    assert!(
        rel_err(&Mp256::from_f64(f64_sup.value), oracle) > 1e-30,
        "{name}: check has no power"
    );
    let o = Mp256::parse(oracle).unwrap().to_f64();
    assert!(
        (f64_sup.value - o).abs() < 1e-12 * o,
        "{name}: f64 {} vs {o}",
        f64_sup.value
    );
    let v = mp_sup.value.to_f64();
    assert!(
        (f64_sup.value - v).abs() < f64_ulps * f64::EPSILON * v,
        "{name}: f64 {} vs Mp256 {v}",
        f64_sup.value
    );
    // The argmax is a probability vector at both precisions, and the two agree.
    let total = mp_sup
        .argmax
        .iter()
        .fold(Mp256::from_f64(0.0), |a, v| a + v);
    assert!(
        (total - Mp256::from_f64(1.0)).abs().to_f64() < 1e-70,
        "{name}"
    );
    for (a, b) in f64_sup.argmax.iter().zip(&mp_sup.argmax) {
        assert!((a - b.to_f64()).abs() < 1e-6, "{name}: argmax {a} vs {b}");
    }
}

#[test]
fn ib_3x3_constants_at_256_bits_match_mpmath() {
    let (j64, jmp) = (example::<f64>("ib_3x3.csv"), example::<Mp256>("ib_3x3.csv"));
    check_polished(
        "3x3 s*",
        sdpi_constant(&j64),
        sdpi_constant(&jmp),
        S_3X3,
        8.0,
    );
    check_polished(
        "3x3 eta_dual",
        dual_nucleation_constant(&j64),
        dual_nucleation_constant(&jmp),
        ETA_DUAL_3X3,
        16.0,
    );
}

#[test]
fn dualib_paper_example_constants_at_256_bits_match_mpmath() {
    let (j64, jmp) = (
        example::<f64>("dualib_5x2.csv"),
        example::<Mp256>("dualib_5x2.csv"),
    );
    assert_eq!((jmp.nx(), jmp.ny()), (5, 2));
    check_polished(
        "5x2 s*",
        sdpi_constant(&j64),
        sdpi_constant(&jmp),
        S_5X2,
        128.0,
    );
    check_polished(
        "5x2 eta_dual",
        dual_nucleation_constant(&j64),
        dual_nucleation_constant(&jmp),
        ETA_DUAL_5X2,
        128.0,
    );
}

// ---------------------------------------------------------------------------------------
// The nucleation test max_q c(q) > 1 (spec ib §3.1, §3.2, §3.6, §5 row 12).
// ---------------------------------------------------------------------------------------

use ibex::bifurcation::{dual_nucleation_test, ib_nucleation_test};
use ibex::info::kl;
use ibex::solve::{solve, MergeTol, Stop};

fn row<T: Real>(j: &Joint<T>, x: usize) -> Vec<T> {
    j.p_y_given_x().row(x).iter().cloned().collect()
}

#[test]
fn ib_nucleation_test_switches_at_one_over_s_star_on_the_3x3() {
    // spec §5 row 12 (oracle_nucleation.py, scipy Nelder-Mead): max_q c(q) - 1 = +4e-16 at
    // 0.9999/eta (no growth) and +6.509e-6 at 1.0001/eta, argmax q = [0.320687 0.310271
    // 0.369042] (6 decimals).
    let j = example::<f64>("ib_3x3.csv");
    let s = sdpi_constant(&j).value;
    let triv = trivial(&j);
    let below = ib_nucleation_test(&j, &(0.9999 / s), &triv);
    assert!(below.value() - 1.0 < 1e-12, "{}", below.value() - 1.0);
    let above = ib_nucleation_test(&j, &(1.0001 / s), &triv);
    let g = above.value() - 1.0;
    assert!((g - 6.509e-6).abs() < 0.005e-6, "{g:e}");
    for (a, b) in above.decoder().iter().zip([0.320687, 0.310271, 0.369042]) {
        assert!((a - b).abs() < 1e-6, "{:?}", above.decoder());
    }
    // New-cluster growth (maxima away from the existing decoder p_Y) changes sign.
    let tol = 1e-6;
    let py = vec![j.p_y().to_vec()];
    assert!(below.new_cluster_growth(&py, &tol).is_none_or(|g| g < 0.0));
    assert!(above
        .new_cluster_growth(&py, &tol)
        .is_some_and(|g| g > 6e-6));
}

#[test]
fn nucleation_tests_switch_exactly_at_the_polished_constants_at_256_bits() {
    // At 256 bits, beta = (1 -+ 1e-20)/s*: the new cluster's c - 1 is about
    // -+ 6.5e-2 * 1e-20 (slope from spec row 12), far above the 256-bit rounding, so the
    // sign change pins 1/s* (and 1/eta_dual) to 1e-20 relative.
    let j = example::<Mp256>("ib_3x3.csv");
    let triv = trivial(&j);
    let py = vec![j.p_y().to_vec()];
    let tol = Mp256::from_f64(1e-6);
    let delta = Mp256::parse("1e-20").unwrap();
    let one = Mp256::from_f64(1.0);
    let s = sdpi_constant(&j).value;
    let below = ib_nucleation_test(&j, &((one.clone() - &delta) / &s), &triv);
    let above = ib_nucleation_test(&j, &((one.clone() + &delta) / &s), &triv);
    let (gb, ga) = (
        below.new_cluster_growth(&py, &tol).unwrap().to_f64(),
        above.new_cluster_growth(&py, &tol).unwrap().to_f64(),
    );
    assert!(gb < -1e-23 && gb > -1e-20, "{gb:e}");
    assert!(ga > 1e-23 && ga < 1e-20, "{ga:e}");
    assert!((below.value().clone() - &one).abs().to_f64() < 1e-60);
    // dual IB at 1/eta_dual; its trivial decoder is the geometric q0.
    let e = dual_nucleation_constant(&j).value;
    let q0 = vec![geometric_q0(&j)];
    let below = dual_nucleation_test(&j, &((one.clone() - &delta) / &e), &triv);
    let above = dual_nucleation_test(&j, &((one.clone() + &delta) / &e), &triv);
    let (gb, ga) = (
        below.new_cluster_growth(&q0, &tol).unwrap().to_f64(),
        above.new_cluster_growth(&q0, &tol).unwrap().to_f64(),
    );
    assert!(gb < -1e-23 && gb > -1e-20, "dual {gb:e}");
    assert!(ga > 1e-23 && ga < 1e-20, "dual {ga:e}");
}

/// q0(y) ∝ Π_x p(y|x)^{p(x)}, computed here from its definition.
fn geometric_q0<T: Real>(j: &Joint<T>) -> Vec<T> {
    let logs: Vec<T> = (0..j.ny())
        .map(|y| {
            (0..j.nx()).fold(T::zero(), |a, x| {
                a + j.p_x()[x].clone() * j.p_y_given_x()[(x, y)].ln()
            })
        })
        .collect();
    let w: Vec<T> = logs.iter().map(|l| l.exp()).collect();
    let total = w.iter().fold(T::zero(), |a, v| a + v);
    w.into_iter().map(|v| v / &total).collect()
}

#[test]
fn dual_nucleation_test_switches_at_one_over_eta_dual_on_the_3x3() {
    // spec §3.6 / oracle_nucleation.py: +6.661e-16 at 0.999/eta_dual, +1.270e-5 at
    // 1.001/eta_dual with argmax q = [0.212997 0.350828 0.436175].
    let j = example::<f64>("ib_3x3.csv");
    let e = dual_nucleation_constant(&j).value;
    let triv = trivial(&j);
    let below = dual_nucleation_test(&j, &(0.999 / e), &triv);
    assert!(below.value() - 1.0 < 1e-12, "{}", below.value() - 1.0);
    let above = dual_nucleation_test(&j, &(1.001 / e), &triv);
    let g = above.value() - 1.0;
    assert!((g - 1.270e-5).abs() < 0.005e-5, "{g:e}");
    for (a, b) in above.decoder().iter().zip([0.212997, 0.350828, 0.436175]) {
        assert!((a - b).abs() < 1e-6, "{:?}", above.decoder());
    }
}

#[test]
fn ib_nucleation_test_on_the_binary_x_example() {
    // spec §3.1 (oracle_sdpi_gap.py): max_q c(q) crosses 1 between beta = 2.558 and 2.559,
    // at q(y=1) = 0.86265.
    let j = example::<f64>("binary_x_hysteresis.csv");
    let triv = trivial(&j);
    let below = ib_nucleation_test(&j, &2.558, &triv);
    assert!(below.value() - 1.0 < 1e-12, "{}", below.value() - 1.0);
    let above = ib_nucleation_test(&j, &2.559, &triv);
    assert!(above.value() - 1.0 > 1e-9, "{}", above.value() - 1.0);
    assert!(
        (above.decoder()[1] - 0.86265).abs() < 1e-4,
        "{:?}",
        above.decoder()
    );
}

#[test]
fn donsker_varadhan_identity_at_the_trivial_solution() {
    // ln max_q c(q) = max_r [beta D(rP||p_Y) - D(r||p_X)] (spec §3.1). The right side by
    // brute force over a grid on the simplex (step 1/1000; the grid value is below the
    // maximum by O(1e-6)), and exactly at r(x) ∝ p(x) exp(-beta KL(p(y|x)||q*)) / Z(x)
    // (the Gibbs maximiser for the iteration's q*, where r*P = q*).
    let j = example::<f64>("ib_3x3.csv");
    let triv = trivial(&j);
    let s = sdpi_constant(&j).value;
    let objective = |r: &[f64], beta: f64| {
        let out: Vec<f64> = (0..3)
            .map(|y| (0..3).map(|x| r[x] * j.p_y_given_x()[(x, y)]).sum())
            .collect();
        beta * kl(&out, j.p_y()) - kl(r, j.p_x())
    };
    for beta in [1.2 / s, 3.0] {
        let test = ib_nucleation_test(&j, &beta, &triv);
        let lhs = test.value().ln();
        assert!(lhs > 1e-4, "{lhs}");
        let n = 1000;
        let mut grid = f64::NEG_INFINITY;
        for a in 0..=n {
            for b in 0..=(n - a) {
                let r = [
                    a as f64 / n as f64,
                    b as f64 / n as f64,
                    (n - a - b) as f64 / n as f64,
                ];
                grid = grid.max(objective(&r, beta));
            }
        }
        assert!(
            grid <= lhs + 1e-13 && lhs - grid < 1e-4 * lhs,
            "beta {beta}: {lhs} vs grid {grid}"
        );
        let q = test.decoder();
        let w: Vec<f64> = (0..3)
            .map(|x| {
                // Z(x) = exp(-beta KL(p(y|x)||p_Y)) at the trivial solution.
                let (d, d0) = (kl(&row(&j, x), q), kl(&row(&j, x), j.p_y()));
                j.p_x()[x] * (-beta * (d - d0)).exp()
            })
            .collect();
        let total: f64 = w.iter().sum();
        let r: Vec<f64> = w.iter().map(|v| v / total).collect();
        let exact = objective(&r, beta);
        assert!((exact - lhs).abs() < 1e-12, "beta {beta}: {lhs} vs {exact}");
    }
}

/// c(q) from its definition for a fixed point (q(t), decoders, distortion), for the grid.
fn c_direct(
    j: &Joint<f64>,
    beta: f64,
    q_t: &[f64],
    decoders: &[Vec<f64>],
    q: &[f64],
    dual: bool,
) -> f64 {
    let d = |x: usize, q: &[f64]| {
        if dual {
            kl(q, &row(j, x))
        } else {
            kl(&row(j, x), q)
        }
    };
    (0..j.nx())
        .map(|x| {
            let z: f64 = q_t
                .iter()
                .zip(decoders)
                .map(|(w, dec)| w * (-beta * d(x, dec)).exp())
                .sum();
            j.p_x()[x] * (-beta * d(x, q)).exp() / z
        })
        .sum()
}

#[test]
fn nucleation_iteration_agrees_with_a_grid_on_non_trivial_fixed_points() {
    // Binary Y: c depends on q(y=1) only. Every interior local maximum of c on a grid of
    // step 1e-5 must be one of the iteration's maxima (value to 1e-9), and the largest
    // grid value must not exceed the iteration's maximum.
    for (file, beta, dual) in [
        ("dualib_5x2.csv", 8.0, false),
        ("dualib_5x2.csv", 6.0, true),
        ("binary_x_hysteresis.csv", 3.5, false),
    ] {
        let j = example::<f64>(file);
        let stop = Stop::<f64>::new(1_000_000, 1e-14);
        let merge = MergeTol::for_stop(&stop);
        let start = Init::<f64>::Identity.encoder(j.nx(), j.nx()).unwrap();
        let sol = if dual {
            solve(
                &ibex::dual_ib::DualIb,
                &j,
                &beta,
                start,
                &stop,
                &merge,
                &mut (),
            )
        } else {
            solve(&ibex::ib::Ib, &j, &beta, start, &stop, &merge, &mut ())
        };
        assert!(
            sol.clusters.len() >= 2,
            "{file}: {} clusters",
            sol.clusters.len()
        );
        let live: Vec<usize> = (0..sol.q_t.len()).filter(|&t| sol.q_t[t] > 0.0).collect();
        let q_t: Vec<f64> = live.iter().map(|&t| sol.q_t[t]).collect();
        let decoders: Vec<Vec<f64>> = live
            .iter()
            .map(|&t| sol.q_y_given_t.row(t).iter().cloned().collect())
            .collect();
        let test = if dual {
            dual_nucleation_test(&j, &beta, &sol.q_t_given_x)
        } else {
            ib_nucleation_test(&j, &beta, &sol.q_t_given_x)
        };
        let n = 100_000;
        let c: Vec<f64> = (1..n)
            .map(|k| {
                let a = k as f64 / n as f64;
                c_direct(&j, beta, &q_t, &decoders, &[1.0 - a, a], dual)
            })
            .collect();
        let grid_max = c.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        assert!(
            grid_max <= test.value() + 1e-12,
            "{file}: {grid_max} > {}",
            test.value()
        );
        let mut found = 0;
        for k in 1..c.len() - 1 {
            if c[k] > c[k - 1] && c[k] >= c[k + 1] {
                found += 1;
                let a = (k + 1) as f64 / n as f64;
                let hit = test
                    .maxima
                    .iter()
                    .any(|m| (m.decoder[1] - a).abs() < 2e-5 && (m.value - c[k]).abs() < 1e-9);
                assert!(
                    hit,
                    "{file} beta {beta}: grid max at {a} (c = {}) not found: {:?}",
                    c[k], test.maxima
                );
            }
        }
        assert!(found >= 1, "{file}");
    }
}

/// The budgeted s* search (|X| > 12) against two truths that do not come from it:
/// (1) the point masses r = δ_x are feasible, so s* >= max_x KL(p(y|x) ‖ p_Y) / ln(1/p(x));
/// (2) an IB encoder with a negative Lagrangian at beta means the trivial solution is not
/// optimal there, so 1/s* < beta. On the 256x32 Dirichlet joint the search from random
/// logits alone returned the local limit rho_m^2 = 0.0571 (1/s* = 17.5, reported as exact)
/// while ibex solve finds L = -0.00136 nats at beta = 9.103.
#[test]
fn budgeted_sdpi_search_beats_point_masses_and_known_solutions() {
    use ibex::ib::Ib;
    use ibex::solve::{solve_best, MergeTol, Stop};
    let generated = ibex::gen::dirichlet(256, 32, 1, 1.0).unwrap();
    let j = ibex::io::parse_joint::<f64>("256x32", &generated.to_csv("t"), &ReadOptions::default())
        .unwrap()
        .joint;
    let s = sdpi_constant(&j);
    let vertex_bound = (0..j.nx())
        .map(|x| {
            let kl: f64 = (0..j.ny())
                .map(|y| {
                    let a = j.p_y_given_x()[(x, y)];
                    if a > 0.0 {
                        a * (a / j.p_y()[y]).ln()
                    } else {
                        0.0
                    }
                })
                .sum();
            kl / -j.p_x()[x].ln()
        })
        .fold(0.0f64, f64::max);
    assert!(vertex_bound > 0.09, "{vertex_bound}");
    assert!(
        s.value >= vertex_bound * (1.0 - 1e-12),
        "{} < {vertex_bound}",
        s.value
    );
    let beta = 9.103;
    let stop = Stop::<f64>::default();
    let start = Init::<f64>::Identity.encoder(j.nx(), j.nx()).unwrap();
    let (solution, _) = solve_best(
        &Ib,
        &j,
        &beta,
        vec![start],
        &stop,
        &MergeTol::for_stop(&stop),
    );
    assert!(solution.objective < -1e-3, "{}", solution.objective);
    assert!(1.0 / s.value < beta, "1/s* = {}", 1.0 / s.value);
}

/// η_dual = sup_r D(q_p ‖ q_r) / D(r ‖ p_X) by brute force: every r on the lattice
/// {k/n} of the closed simplex (faces and vertices included, r(x) = 0 exactly), with the
/// geometric mean q_r(y) ∝ Π_{x: r(x) > 0} p(y|x)^{r(x)} written out here (0 where a
/// member has p(y|x) = 0). Returns the largest ratio found.
fn eta_dual_lattice(p_xy: &[Vec<f64>], n: usize) -> f64 {
    let nx = p_xy.len();
    let total: f64 = p_xy.iter().flatten().sum();
    let p_x: Vec<f64> = p_xy.iter().map(|r| r.iter().sum::<f64>() / total).collect();
    let p_y_x: Vec<Vec<f64>> = p_xy
        .iter()
        .zip(&p_x)
        .map(|(r, px)| r.iter().map(|v| v / total / px).collect())
        .collect();
    let geometric = |r: &[f64]| -> Vec<f64> {
        let ny = p_y_x[0].len();
        let logs: Vec<Option<f64>> = (0..ny)
            .map(|y| {
                let mut s = 0.0;
                for x in 0..nx {
                    if r[x] > 0.0 {
                        if p_y_x[x][y] == 0.0 {
                            return None;
                        }
                        s += r[x] * p_y_x[x][y].ln();
                    }
                }
                Some(s)
            })
            .collect();
        let m = logs
            .iter()
            .flatten()
            .cloned()
            .fold(f64::NEG_INFINITY, f64::max);
        let w: Vec<f64> = logs
            .iter()
            .map(|l| l.map_or(0.0, |l| (l - m).exp()))
            .collect();
        let t: f64 = w.iter().sum();
        w.iter().map(|v| v / t).collect()
    };
    let kl = |a: &[f64], b: &[f64]| -> f64 {
        a.iter()
            .zip(b)
            .filter(|(u, _)| **u > 0.0)
            .map(|(u, v)| {
                if *v > 0.0 {
                    u * (u / v).ln()
                } else {
                    f64::INFINITY
                }
            })
            .sum()
    };
    let q_p = geometric(&p_x);
    let mut best = 0.0f64;
    // Compositions of n into nx parts.
    let mut k = vec![0usize; nx];
    loop {
        let used: usize = k[..nx - 1].iter().sum();
        if used <= n {
            k[nx - 1] = n - used;
            let r: Vec<f64> = k.iter().map(|&v| v as f64 / n as f64).collect();
            let den = kl(&r, &p_x);
            if den > 1e-9 {
                let ratio = kl(&q_p, &geometric(&r)) / den;
                if ratio.is_finite() {
                    best = best.max(ratio);
                }
            }
        }
        // Next (k_0, ..., k_{nx-2}) in odometer order.
        let mut i = 0;
        loop {
            if i == nx - 1 {
                return best;
            }
            k[i] += 1;
            if k[..nx - 1].iter().sum::<usize>() <= n {
                break;
            }
            k[i] = 0;
            i += 1;
        }
    }
}

/// With zeros in p(y|x) the dual ratio jumps up on faces of the simplex where q_r gains
/// support, so its supremum can sit on a face no interior point approaches (on the first
/// joint the rows share only y = 1 and the ratio is 0 in the whole interior: the search
/// returned η_dual = 0 and the onset 1/η_dual = inf until 2026-12-04). The searched η_dual
/// must reach the brute-force lattice maximum and exceed it by at most the lattice's
/// resolution; the dual nucleation test (an independent maximisation over decoders)
/// switches at 1/η_dual.
#[test]
fn eta_dual_with_zeros_reaches_the_brute_force_maximum_over_the_closed_simplex() {
    let joints: [Vec<Vec<f64>>; 3] = [
        vec![
            vec![0.0, 0.305129, 0.187756],
            vec![0.0, 0.015970, 0.0],
            vec![0.042889, 0.174129, 0.180432],
            vec![0.033189, 0.060504, 0.0],
        ],
        vec![
            vec![0.0, 0.055163, 0.121377, 0.127683],
            vec![0.061827, 0.063334, 0.087962, 0.0],
            vec![0.0, 0.070894, 0.088463, 0.0],
            vec![0.049503, 0.0, 0.098034, 0.175760],
        ],
        vec![
            vec![0.2, 0.1, 0.0],
            vec![0.1, 0.2, 0.1],
            vec![0.0, 0.1, 0.2],
        ],
    ];
    for p_xy in joints {
        let text: String = p_xy
            .iter()
            .map(|r| {
                r.iter()
                    .map(|v| v.to_string())
                    .collect::<Vec<_>>()
                    .join(",")
                    + "\n"
            })
            .collect();
        let j = ibex::io::parse_joint::<f64>(
            "t",
            &text,
            &ReadOptions {
                normalize: true,
                ..Default::default()
            },
        )
        .unwrap()
        .joint;
        let eta = dual_nucleation_constant(&j).value;
        let lattice = eta_dual_lattice(&p_xy, 60);
        assert!(
            eta >= lattice * (1.0 - 1e-12) && eta <= lattice * 1.02,
            "eta_dual {eta}, lattice {lattice}"
        );
        let t = trivial(&j);
        let onset = 1.0 / eta;
        let below =
            *ibex::bifurcation::dual_nucleation_test(&j, &(onset * (1.0 - 1e-6)), &t).value();
        let above =
            *ibex::bifurcation::dual_nucleation_test(&j, &(onset * (1.0 + 1e-6)), &t).value();
        assert!(below <= 1.0 + 1e-12 && above > 1.0, "{below} {above}");
    }
}

fn joint_from<T: Real>(text: &str) -> Joint<T> {
    let options = ReadOptions {
        normalize: true,
        ..ReadOptions::default()
    };
    ibex::io::parse_joint::<T>("t", text, &options)
        .unwrap()
        .joint
}

/// Independent X and Y: every constant of the trivial solution is 0, not the 1e-28 to
/// 1e-33 that rounding gave before (thresholds and onsets of 1e27 to 1e33). In f64 also
/// for a product written with rounding (17 digits, as a user's file has them); at 256
/// bits that file is a real dependence at the 1e-17 level and is not tested there. A
/// weakly dependent DSBS, 1 − 2E = 1e-6, keeps its closed form s* = rho_m^2 = (1 − 2E)^2
/// = 1e-12 (Ahlswede-Gacs), far above the rounding floor, so the floor does not eat real
/// dependence.
#[test]
fn independent_joints_have_zero_constants_and_weak_dependence_keeps_its_own() {
    fn check<T: Real>(products: &[&str]) {
        for text in products {
            let j = joint_from::<T>(text);
            let ib = ib_split_eigenvalues(&j, &trivial(&j))[0].clone().unwrap();
            assert!(is_rounding_level(&j, &ib), "{text}: {}", ib.to_f64());
            let dual = dual_split_eigenvalues(&j, &trivial(&j))[0].clone().unwrap();
            assert!(is_rounding_level(&j, &dual), "{text}: {}", dual.to_f64());
            for s in [sdpi_constant(&j), dual_nucleation_constant(&j)] {
                assert!(s.value.is_zero(), "{text}: {}", s.value.to_f64());
                assert_eq!(s.method, SupremumMethod::LocalLimit);
            }
        }
        let e = 0.5 - 5e-7;
        let j = joint_from::<T>(&format!("{},{e}\n{e},{}\n", 1.0 - e, 1.0 - e));
        let s = sdpi_constant(&j).value.to_f64();
        assert!((s - 1e-12).abs() < 1e-6 * 1e-12, "{s}");
        let dual = dual_nucleation_constant(&j).value.to_f64();
        assert!(dual > 1e-14 && dual.is_finite(), "{dual}");
    }
    // 0.37, 0.63 times 0.21, 0.79, exactly in decimal.
    let exact = ["0.3,0.2\n0.3,0.2\n", "0.0777,0.2923\n0.1323,0.4977\n"];
    let rounded = "0.06999999999999999,0.16666666666666666,0.09666666666666665\n\
                   0.11918918918918918,0.28378378378378377,0.16459459459459458\n\
                   0.020810810810810806,0.04954954954954954,0.028738738738738733\n";
    check::<f64>(&[exact[0], exact[1], rounded]);
    check::<Mp256>(&exact);
}
