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
use std::time::Instant;

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
    // A deliberately wrong oracle (shifted by 1e-28 relative) fails the same check.
    let wrong =
        Mp256::parse(oracle).unwrap() * Mp256::parse("1.0000000000000000000000000001").unwrap();
    assert!(
        rel_err(&mp_sup.value, &wrong.to_decimal()) > 1e-30,
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

/// Timings of sdpi_constant (run with `--ignored --nocapture`).
#[test]
#[ignore]
fn sdpi_constant_cost() {
    fn time<T: Real>(name: &str, j: &Joint<T>) {
        let t = Instant::now();
        let s = sdpi_constant(j);
        let e = t.elapsed();
        let t2 = Instant::now();
        let d = dual_nucleation_constant(j);
        let e2 = t2.elapsed();
        println!(
            "{name} {}x{} {} bits: s* {:.3?} ({:?}, {}), eta_dual {:.3?} ({:?}, {})",
            j.nx(),
            j.ny(),
            T::PRECISION_BITS,
            e,
            s.method,
            s.value.to_f64(),
            e2,
            d.method,
            d.value.to_f64()
        );
    }
    time("3x3", &example::<f64>("ib_3x3.csv"));
    time("3x3", &example::<Mp256>("ib_3x3.csv"));
    let g = ibex::gen::dirichlet(32, 8, 1, 1.0).unwrap();
    let dir = std::env::temp_dir().join("ibex_sdpi_cost_32x8.csv");
    std::fs::write(&dir, g.to_csv("sdpi_constant_cost")).unwrap();
    let read = |p: &std::path::Path| read_joint::<f64>(p, &ReadOptions::default()).unwrap().joint;
    time("dirichlet", &read(&dir));
    time(
        "dirichlet",
        &read_joint::<Mp256>(&dir, &ReadOptions::default())
            .unwrap()
            .joint,
    );
}
