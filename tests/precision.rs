//! The same code at f64 and MPFR precisions: agreement with 512-bit results, closed
//! forms evaluated directly in MPFR (rug), and decimal input parsed at full precision.

mod common;

use common::{labels, random_joint};
use ibex::info::{self, Measures};
use ibex::io::{parse_joint, ReadOptions};
use ibex::scalar::{Mp1024, Mp256, Mp512, Real};
use ibex::{Joint, MaximalCorrelation};
use nalgebra::DMatrix;
use rug::float::Constant;
use rug::Float;

/// 1 − h(E) in bits, evaluated with rug directly (not through ibex's code).
fn one_minus_h_bits(e: &str, prec: u32) -> Float {
    let e = Float::with_val(prec, Float::parse(e).unwrap());
    let one_minus = Float::with_val(prec, 1 - &e);
    let ln2 = Float::with_val(prec, Constant::Log2);
    let ln_e = Float::with_val(prec, e.ln_ref());
    let ln_one_minus = Float::with_val(prec, one_minus.ln_ref());
    let h_nats =
        -(Float::with_val(prec, &e * &ln_e) + Float::with_val(prec, &one_minus * &ln_one_minus));
    1 - h_nats / ln2
}

fn dsbs_text(e: &str) -> String {
    ibex::gen::dsbs(e).unwrap().to_csv("test")
}

#[test]
fn dsbs_information_at_256_bits_matches_the_closed_form_to_1e_70() {
    for e in ["0.1", "0.01", "0.3", "0.123456789"] {
        let file = parse_joint::<Mp256>("dsbs", &dsbs_text(e), &ReadOptions::default()).unwrap();
        let i_bits = info::nats_to_bits(&info::mutual_information(&file.joint));
        let closed = one_minus_h_bits(e, 256);
        let diff = Float::with_val(256, &i_bits.0 - &closed).abs();
        assert!(diff < 1e-70, "E = {e}: diff {diff}");
    }
}

#[test]
fn dsbs_information_at_1024_bits_matches_the_closed_form_to_1e_300() {
    let file = parse_joint::<Mp1024>("dsbs", &dsbs_text("0.1"), &ReadOptions::default()).unwrap();
    let i_bits = info::nats_to_bits(&info::mutual_information(&file.joint));
    let diff = Float::with_val(1024, &i_bits.0 - one_minus_h_bits("0.1", 1024)).abs();
    assert!(diff < Float::with_val(1024, Float::parse("1e-300").unwrap()));
}

#[test]
fn dsbs_critical_beta_at_256_bits() {
    let file = parse_joint::<Mp256>("dsbs", &dsbs_text("0.1"), &ReadOptions::default()).unwrap();
    let mc = MaximalCorrelation::of(&file.joint);
    let want = Mp256::parse("1.5625").unwrap();
    assert!((mc.beta_critical_first - want).abs() < Mp256::parse("1e-70").unwrap());
    assert!((mc.rho_m - Mp256::parse("0.8").unwrap()).abs() < Mp256::parse("1e-74").unwrap());
}

#[test]
fn f64_agrees_with_512_bits_on_random_joints() {
    for seed in 1..=20u64 {
        let (nx, ny) = (2 + (seed as usize % 7), 2 + (seed as usize * 3 % 5));
        let p = random_joint(nx, ny, seed);
        let j64 = Joint::normalized(p, labels(nx), labels(ny)).unwrap().joint;
        let j512: Joint<Mp512> = j64.convert();
        let (a, b) = (Measures::of(&j64), Measures::of(&j512));
        for (x, y) in [
            (a.h_x, &b.h_x),
            (a.h_y, &b.h_y),
            (a.h_xy, &b.h_xy),
            (a.h_y_given_x, &b.h_y_given_x),
            (a.i_xy, &b.i_xy),
        ] {
            assert!((x - y.to_f64()).abs() < 1e-13, "seed {seed}");
        }
        let (ma, mb) = (MaximalCorrelation::of(&j64), MaximalCorrelation::of(&j512));
        assert!((ma.rho_m - mb.rho_m.to_f64()).abs() < 1e-13, "seed {seed}");
        // The 512-bit spectrum is itself checked: sum of squares of singular values of Q
        // is Σ p(x,y)^2 / (p(x)p(y)) (the Frobenius norm), computed directly.
        let frob = (0..nx).flat_map(|x| (0..ny).map(move |y| (x, y))).fold(
            Mp512::from_f64(0.0),
            |acc, (x, y)| {
                let v = j512.p_xy()[(x, y)].clone();
                acc + v.clone() * &v / (j512.p_x()[x].clone() * &j512.p_y()[y])
            },
        );
        let sum_sq = mb
            .singular_values
            .iter()
            .fold(Mp512::from_f64(0.0), |acc, s| acc + s.clone() * s);
        assert!(
            (frob - sum_sq).abs() < Mp512::parse("1e-140").unwrap(),
            "seed {seed}"
        );
    }
}

#[test]
fn decimal_input_is_parsed_at_working_precision() {
    // 0.1 + 0.2 + 0.3 + 0.4 = 1: exactly true of the decimals, so a strict read at 256 bits
    // passes; with f64 round-trip digits it is not 1 above f64 precision.
    let ok = parse_joint::<Mp256>("t", "0.1,0.2\n0.3,0.4\n", &ReadOptions::default()).unwrap();
    assert_eq!(ok.joint.p_xy()[(0, 0)], Mp256::parse("0.1").unwrap());
    assert_ne!(ok.joint.p_xy()[(0, 0)], Mp256::from_f64(0.1));
    let round_trip =
        "0.45000000000000001,0.050000000000000003\n0.050000000000000003,0.45000000000000001\n";
    let err = parse_joint::<Mp256>("rt.csv", round_trip, &ReadOptions::default()).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("--normalize") && msg.contains("round-trip"),
        "{msg}"
    );
    // ...while f64 reads it fine, and --normalize fixes it at 256 bits.
    assert!(parse_joint::<f64>("rt.csv", round_trip, &ReadOptions::default()).is_ok());
    let normalized = ReadOptions {
        normalize: true,
        ..Default::default()
    };
    assert!(parse_joint::<Mp256>("rt.csv", round_trip, &normalized).is_ok());
}

#[test]
fn counts_are_normalised_exactly() {
    let counts = DMatrix::from_row_slice(2, 2, &[1u64, 2, 3, 4]);
    let j = Joint::<Mp256>::from_counts(&counts, labels(2), labels(2))
        .unwrap()
        .joint;
    assert_eq!(j.p_xy()[(1, 1)], Mp256::parse("0.4").unwrap());
    let third = Joint::<Mp256>::from_counts(
        &DMatrix::from_row_slice(1, 3, &[1u64, 1, 1]),
        labels(1),
        labels(3),
    )
    .unwrap()
    .joint;
    assert_eq!(third.p_y()[0], Mp256::from_f64(1.0) / Mp256::from_f64(3.0));
}
