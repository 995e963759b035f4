//! Onset constants of the trivial solution against the spec's mpmath oracles (spec ib §5,
//! rows 2-6, 9, 14, 15; produced by mpmath scripts, values copied here with their source).

use ibex::bifurcation::{
    dual_nucleation_constant, dual_split_eigenvalues, ib_split_eigenvalues, sdpi_constant,
    SupremumMethod,
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
    assert_eq!(s.method, SupremumMethod::Search);
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
