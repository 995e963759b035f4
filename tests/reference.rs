//! Information measures and maximal correlation against independent truth: hand
//! derivations, closed forms, and mpmath (data/reference/info_mpmath.json, made by
//! data/reference/make_info_reference.py with mpmath's own SVD).

mod common;

use common::{example, reference};
use ibex::info::{self, Measures};
use ibex::io::{read_joint, InputLayout, ReadOptions};
use ibex::scalar::Real;
use ibex::{Joint, MaximalCorrelation};
use nalgebra::DMatrix;

fn binary_entropy_bits(p: f64) -> f64 {
    if p == 0.0 || p == 1.0 {
        0.0
    } else {
        -(p * p.log2() + (1.0 - p) * (1.0 - p).log2())
    }
}

fn dsbs(e: f64) -> Joint<f64> {
    Joint::new(DMatrix::from_row_slice(
        2,
        2,
        &[(1.0 - e) / 2.0, e / 2.0, e / 2.0, (1.0 - e) / 2.0],
    ))
    .unwrap()
}

#[test]
fn dsbs_mutual_information_is_one_minus_h_of_e() {
    for e in [0.0, 0.01, 0.1, 0.25, 0.4, 0.5] {
        let i_bits = info::nats_to_bits(&info::mutual_information(&dsbs(e)));
        let closed = 1.0 - binary_entropy_bits(e);
        assert!(
            (i_bits - closed).abs() < 1e-14,
            "E = {e}: {i_bits} vs {closed}"
        );
    }
}

#[test]
fn dsbs_maximal_correlation_is_one_minus_two_e() {
    for e in [0.01, 0.1, 0.25, 0.4] {
        let m = MaximalCorrelation::of(&dsbs(e));
        let rho = (1.0f64 - 2.0 * e).abs();
        assert!((m.rho_m - rho).abs() < 1e-14, "E = {e}");
        assert!((m.beta_critical_first - 1.0 / (rho * rho)).abs() < 1e-12 / (rho * rho));
    }
    // E = 1/2: X and Y independent, rho_m = 0 and no finite critical beta.
    let m = MaximalCorrelation::of(&dsbs(0.5));
    assert_eq!(m.rho_m, 0.0);
    assert!(m.beta_critical_first.is_infinite());
}

#[test]
fn hand_derived_two_by_two() {
    // p = [[a, b], [c, d]] = [[0.1, 0.2], [0.3, 0.4]]:
    // H(X) = h(0.3), H(Y) = h(0.4), H(X,Y) = -Σ p ln p, rho_m by hand:
    // for 2x2, rho_m = |ad - bc| / sqrt(p(x0) p(x1) p(y0) p(y1)).
    let j = Joint::new(DMatrix::from_row_slice(2, 2, &[0.1, 0.2, 0.3, 0.4])).unwrap();
    let m = Measures::of(&j);
    let ln2 = std::f64::consts::LN_2;
    assert!((m.h_x / ln2 - binary_entropy_bits(0.3)).abs() < 1e-15);
    assert!((m.h_y / ln2 - binary_entropy_bits(0.4)).abs() < 1e-15);
    let hxy = -(0.1f64 * 0.1f64.ln() + 0.2 * 0.2f64.ln() + 0.3 * 0.3f64.ln() + 0.4 * 0.4f64.ln());
    assert!((m.h_xy - hxy).abs() < 1e-15);
    assert!((m.i_xy - (m.h_x + m.h_y - hxy)).abs() < 1e-15);
    let rho = (0.1f64 * 0.4 - 0.2 * 0.3).abs() / (0.3f64 * 0.7 * 0.4 * 0.6).sqrt();
    assert!((MaximalCorrelation::of(&j).rho_m - rho).abs() < 1e-15);
}

#[test]
fn binary_erasure_channel_rho_squared_is_one_minus_e() {
    let file = read_joint::<f64>(&example("bec_e0.4.csv"), &ReadOptions::default()).unwrap();
    let m = MaximalCorrelation::of(&file.joint);
    assert!((m.rho_m * m.rho_m - 0.6).abs() < 1e-14);
    // Structural zeros in p(y|x) are harmless: I(X;Y) = (1 - e) H(X).
    let meas = Measures::of(&file.joint);
    assert!((meas.i_xy - 0.6 * meas.h_x).abs() < 1e-15);
}

#[test]
fn discretised_gaussian_approaches_the_continuous_values() {
    // Bivariate normal with correlation rho: I = -1/2 ln(1 - rho^2) nats and the
    // maximal correlation is |rho| (Lancaster 1957). A 200 x 200 grid on [-6, 6]^2 is
    // within discretisation error of both.
    for rho in [0.5, -0.8] {
        let g = ibex::gen::gaussian(200, rho, 6.0).unwrap();
        let text = g.to_csv("test");
        let file = ibex::io::parse_joint::<f64>("g", &text, &ReadOptions::default()).unwrap();
        let i = info::mutual_information(&file.joint);
        let closed = -0.5 * (1.0 - rho * rho).ln();
        assert!(
            (i - closed).abs() < 2e-3,
            "rho = {rho}: I = {i}, closed {closed}"
        );
        let m = MaximalCorrelation::of(&file.joint);
        assert!(
            (m.rho_m - rho.abs()).abs() < 2e-3,
            "rho = {rho}: rho_m = {}",
            m.rho_m
        );
    }
}

/// Reads the mpmath value `key` of `case` as f64, and as the decimal string.
fn mp_value(case: &serde_json::Value, key: &str) -> String {
    case[key].as_str().unwrap().to_string()
}

fn check_against_mpmath<T: Real>(tol: f64) {
    let r = reference("info_mpmath.json");
    for (name, case) in r["cases"].as_object().unwrap() {
        let path = format!(
            "{}/{}",
            env!("CARGO_MANIFEST_DIR"),
            case["file"].as_str().unwrap()
        );
        let options = if name.contains("long") {
            ReadOptions {
                layout: InputLayout::Long,
                counts: true,
                normalize: false,
            }
        } else {
            ReadOptions::default()
        };
        let j = read_joint::<T>(std::path::Path::new(&path), &options)
            .unwrap()
            .joint;
        let m = Measures::of(&j);
        let mc = MaximalCorrelation::of(&j);
        let close = |ours: &T, key: &str| {
            let want = T::parse(&mp_value(case, key)).unwrap();
            let diff = (ours.clone() - want.clone()).abs().to_f64();
            let scale = want.abs().to_f64().max(1.0);
            assert!(
                diff <= tol * scale,
                "{name} {key}: ibex {} vs mpmath {} (diff {diff:e})",
                ours.to_decimal(),
                want.to_decimal()
            );
        };
        close(&m.h_x, "h_x_nats");
        close(&m.h_y, "h_y_nats");
        close(&m.h_xy, "h_xy_nats");
        close(&m.h_y_given_x, "h_y_given_x_nats");
        close(&m.i_xy, "i_xy_nats");
        close(&mc.rho_m, "rho_m");
        for (k, sv) in mc.singular_values.iter().enumerate() {
            let want = T::parse(case["singular_values"][k].as_str().unwrap()).unwrap();
            assert!(
                (sv.clone() - want).abs().to_f64() <= tol,
                "{name}: singular value {k}"
            );
        }
        if let Some(b) = case["beta_critical_first"].as_str() {
            let want = T::parse(b).unwrap();
            let rel = ((mc.beta_critical_first.clone() - want.clone()) / want).abs();
            assert!(rel.to_f64() <= tol * 4.0, "{name}: 1/rho_m^2");
        }
    }
}

#[test]
fn f64_matches_mpmath() {
    check_against_mpmath::<f64>(1e-14);
}

#[test]
fn mp256_matches_mpmath_to_its_60_digits() {
    check_against_mpmath::<ibex::scalar::Mp256>(1e-58);
}

#[test]
fn maximal_correlation_matches_nalgebra_svd() {
    // nalgebra's SVD (Golub-Kahan) of the undeflated Q is an independent implementation.
    for (seed, (nx, ny)) in [(3, 4), (7, 2), (10, 10), (25, 6), (4, 30)]
        .iter()
        .enumerate()
    {
        let p = common::random_joint(*nx, *ny, seed as u64 + 1);
        let j = Joint::normalized(p, common::labels(*nx), common::labels(*ny))
            .unwrap()
            .joint;
        let q = DMatrix::from_fn(*nx, *ny, |x, y| {
            j.p_xy()[(x, y)] / (j.p_x()[x] * j.p_y()[y]).sqrt()
        });
        let mut sv: Vec<f64> = q
            .svd(false, false)
            .singular_values
            .iter()
            .cloned()
            .collect();
        sv.sort_by(|a, b| b.partial_cmp(a).unwrap());
        let ours = MaximalCorrelation::of(&j);
        assert_eq!(ours.singular_values.len(), sv.len());
        for (a, b) in ours.singular_values.iter().zip(&sv) {
            assert!((a - b).abs() < 1e-13, "{nx}x{ny}: {a} vs {b}");
        }
    }
}
