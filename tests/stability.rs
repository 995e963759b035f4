//! The first critical beta 1/rho_m^2 checked against the IB iteration itself.
//!
//! Claim (papers/README.md, "first transition"): the trivial encoder q(t|x) = q(t) is a
//! linearly stable fixed point of the IB self-consistent iteration iff beta rho_m^2 < 1.
//! Two independent checks, neither using ibex's spectrum code:
//! 1. the linearised map at the trivial point, C[x,x'] = Σ_y p(y|x) p(x'|y), has
//!    eigenvalues σ_i(Q)^2 (nalgebra's Schur decomposition of C);
//! 2. a plain IB iteration (tests/common) started a small perturbation away from the
//!    trivial encoder returns to it at beta = 0.97/rho_m^2 and leaves it at 1.03/rho_m^2.

mod common;

use common::{distance_from_trivial, ib_step, labels, random_joint, NormalizeRows};
use ibex::{Joint, MaximalCorrelation};
use nalgebra::DMatrix;

fn joints() -> Vec<DMatrix<f64>> {
    let three = DMatrix::from_row_slice(3, 3, &[6., 1., 1., 2., 8., 2., 1., 3., 16.]) / 40.0;
    vec![
        three,
        random_joint(4, 3, 11),
        random_joint(5, 5, 12),
        random_joint(3, 6, 13),
    ]
}

#[test]
fn linearised_ib_map_has_eigenvalues_sigma_squared() {
    for p in joints() {
        let (nx, ny) = p.shape();
        let j = Joint::normalized(p.clone(), labels(nx), labels(ny))
            .unwrap()
            .joint;
        let c = DMatrix::from_fn(nx, nx, |x, x2| {
            (0..ny)
                .map(|y| j.p_y_given_x()[(x, y)] * j.p_xy()[(x2, y)] / j.p_y()[y])
                .sum::<f64>()
        });
        let mut eig: Vec<f64> = c
            .schur()
            .eigenvalues()
            .expect("real spectrum")
            .iter()
            .cloned()
            .collect();
        eig.sort_by(|a, b| b.partial_cmp(a).unwrap());
        let mc = MaximalCorrelation::of(&j);
        for (k, s) in mc.singular_values.iter().enumerate() {
            assert!(
                (eig[k] - s * s).abs() < 1e-12,
                "{nx}x{ny}: eigenvalue {k}: {} vs {}",
                eig[k],
                s * s
            );
        }
        // Any further eigenvalues (nx > ny) are 0.
        for e in &eig[mc.singular_values.len()..] {
            assert!(e.abs() < 1e-12);
        }
    }
}

/// Runs the plain IB iteration from a perturbed trivial encoder with two clusters and
/// returns the distance from the trivial encoder after `steps` iterations.
fn perturbed_run(p: &DMatrix<f64>, beta: f64, steps: usize) -> (f64, f64) {
    let nx = p.nrows();
    let start = DMatrix::from_fn(nx, 2, |x, t| {
        let bump = 1e-4 * ((x * 7 + 3) % 5) as f64 / 5.0;
        if t == 0 {
            0.5 + bump
        } else {
            0.5 - bump
        }
    })
    .normalize_rows();
    let d0 = distance_from_trivial(p, &start);
    let mut q = start;
    for _ in 0..steps {
        q = ib_step(p, beta, &q);
    }
    (d0, distance_from_trivial(p, &q))
}

#[test]
fn trivial_solution_loses_stability_at_one_over_rho_squared() {
    for p in joints() {
        let (nx, ny) = p.shape();
        let j = Joint::normalized(p.clone(), labels(nx), labels(ny))
            .unwrap()
            .joint;
        let beta_c = MaximalCorrelation::of(&j).beta_critical_first;
        let (d0, below) = perturbed_run(j.p_xy(), 0.97 * beta_c, 400);
        let (_, above) = perturbed_run(j.p_xy(), 1.03 * beta_c, 400);
        assert!(
            below < d0 * 1e-3,
            "{nx}x{ny}: below beta_c the perturbation should decay: {d0:e} -> {below:e}"
        );
        assert!(
            above > d0 * 10.0,
            "{nx}x{ny}: above beta_c it should grow: {d0:e} -> {above:e}"
        );
    }
}
