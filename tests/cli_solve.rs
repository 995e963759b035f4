//! `ibex solve` end to end: stable JSON keys, precisions, the encoder round trip through
//! `--encoder-out` and `--init FILE`, restarts, and bad parameters (exit code 2).

mod common;

use std::process::Command;

use clap::Parser;
use common::example;
use serde_json::Value;

fn solve_json(args: &[&str]) -> Value {
    let all: Vec<&str> = ["ibex", "solve"]
        .iter()
        .copied()
        .chain(args.iter().copied())
        .chain(["--format", "json"])
        .collect();
    let args = ibex::cli::Args::try_parse_from(all).expect("arguments parse");
    let mut out = Vec::new();
    ibex::cli::run(args, &mut out).unwrap();
    serde_json::from_slice(&out).unwrap()
}

fn dsbs() -> String {
    example("dsbs_e0.1.csv").to_str().unwrap().to_string()
}

#[test]
fn solve_json_has_the_stable_keys() {
    let v = solve_json(&[&dsbs(), "--beta", "4"]);
    for key in [
        "beta",
        "method",
        "i_xt_bits",
        "i_ty_bits",
        "h_t_bits",
        "objective",
        "clusters",
        "iterations",
        "termination",
        "residual",
        "precision_bits",
    ] {
        assert!(v.get(key).is_some(), "missing {key}");
    }
    assert_eq!(v["method"], "ib");
    assert_eq!(v["termination"], "converged");
    assert_eq!(v["clusters"], 2);
    // spec ib §4.1, DSBS p = 0.1 at beta = 4.
    assert!((v["i_xt_bits"].as_f64().unwrap() - 0.9895342196698186).abs() < 1e-10);
    assert!((v["i_ty_bits"].as_f64().unwrap() - 0.5287107311828348).abs() < 1e-10);
    assert!(v.get("i_xt_bits_decimal").is_none());
}

#[test]
fn solve_at_256_bits_reports_decimals() {
    let v = solve_json(&[&dsbs(), "--beta", "4", "--precision", "256"]);
    assert_eq!(v["precision_bits"], 256);
    for key in [
        "i_xt_bits_decimal",
        "i_ty_bits_decimal",
        "h_t_bits_decimal",
        "objective_decimal",
        "beta_decimal",
    ] {
        assert!(v[key].as_str().unwrap().len() > 70, "{key}");
    }
    // The 256-bit decimal agrees with the f64 value.
    let dec: f64 = v["i_ty_bits_decimal"].as_str().unwrap().parse().unwrap();
    assert!((dec - 0.5287107311828348).abs() < 1e-15);
}

#[test]
fn every_method_runs() {
    let f = example("ib_3x3.csv");
    let f = f.to_str().unwrap();
    let ib = solve_json(&[f, "--beta", "5", "--method", "ib"]);
    let dual = solve_json(&[f, "--beta", "5", "--method", "dualib"]);
    let dib = solve_json(&[f, "--beta", "5", "--method", "dib"]);
    let gen = solve_json(&[f, "--beta", "5", "--method", "dib", "--alpha", "0.5"]);
    for v in [&ib, &dual, &dib, &gen] {
        assert_eq!(v["termination"], "converged", "{}", v["method"]);
        assert!(v["i_ty_bits"].as_f64().unwrap() <= v["i_xy_bits"].as_f64().unwrap() + 1e-12);
    }
    assert_eq!(dual["method"], "dualib");
    assert_eq!(dib["method"], "dib");
}

#[test]
fn encoder_out_round_trips_through_init() {
    let dir = tempfile::tempdir().unwrap();
    let enc = dir.path().join("enc.csv");
    let f = example("ib_3x3.csv");
    let f = f.to_str().unwrap();
    let first = solve_json(&[
        f,
        "--beta",
        "5",
        "--tol",
        "1e-14",
        "--encoder-out",
        enc.to_str().unwrap(),
    ]);
    let again = solve_json(&[
        f,
        "--beta",
        "5",
        "--tol",
        "1e-14",
        "--init",
        enc.to_str().unwrap(),
    ]);
    assert!(
        again["iterations"].as_u64().unwrap() <= 2,
        "a converged encoder is a fixed point"
    );
    assert!(
        (first["objective"].as_f64().unwrap() - again["objective"].as_f64().unwrap()).abs() < 1e-13
    );
}

/// An `--init` file whose rows do not sum to 1 is used (each row divided by its sum), but
/// the report says so, naming the first such row; one written by `--encoder-out` (rows
/// summing to 1 up to rounding) draws no warning.
#[test]
fn init_rows_that_do_not_sum_to_one_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let f = example("ib_3x3.csv");
    let f = f.to_str().unwrap();
    let weights = dir.path().join("weights.csv");
    std::fs::write(&weights, "0.5,0.5,0\n0.3,0.7,0\n0.55,0.55,0\n").unwrap();
    let warned = solve_json(&[f, "--beta", "5", "--init", weights.to_str().unwrap()]);
    let warnings: Vec<&str> = warned["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap())
        .collect();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("1 of 3 rows do not sum to 1 (row 3 (x = 2) sums to 1.1")),
        "{warnings:?}"
    );
    let enc = dir.path().join("enc.csv");
    solve_json(&[f, "--beta", "5", "--encoder-out", enc.to_str().unwrap()]);
    let quiet = solve_json(&[f, "--beta", "5", "--init", enc.to_str().unwrap()]);
    assert_eq!(quiet["warnings"].as_array().unwrap().len(), 0, "{quiet}");
}

#[test]
fn restarts_pick_the_lowest_objective() {
    let f = example("binary_x_hysteresis.csv");
    let f = f.to_str().unwrap();
    let v = solve_json(&[f, "--beta", "3.5", "--clusters", "2", "--restarts", "8"]);
    // spec ib §3.1: the exact minimum at beta = 3.5 (mpmath common tangent).
    assert!((v["objective"].as_f64().unwrap() - -0.04546228056164511).abs() < 1e-10);
    assert_eq!(v["restarts"], 8);
}

#[test]
fn the_identity_start_avoids_the_symmetric_saddle() {
    // 3x3 spec joint at beta = 5: the optimum has 3 clusters (the 2 -> 3 split is at
    // beta* = 2.6372, spec ib §3.2). A random start (seed 0) converges to a 2-cluster
    // fixed point with two coinciding columns (a saddle) and a higher objective; the
    // default identity start, and restarts, find the 3-cluster solution.
    let f = example("ib_3x3.csv");
    let f = f.to_str().unwrap();
    let default = solve_json(&[f, "--beta", "5"]);
    let random = solve_json(&[f, "--beta", "5", "--init", "random"]);
    let restarts = solve_json(&[f, "--beta", "5", "--init", "random", "--restarts", "8"]);
    assert_eq!(default["clusters"], 3);
    assert_eq!(default["start"], "identity");
    assert_eq!(random["clusters"], 2);
    assert!(random["objective"].as_f64().unwrap() > default["objective"].as_f64().unwrap() + 0.1);
    assert_eq!(restarts["clusters"], 3);
    assert!(
        (restarts["objective"].as_f64().unwrap() - default["objective"].as_f64().unwrap()).abs()
            < 1e-12
    );
}

fn run_binary(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ibex"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn bad_parameters_are_one_line_errors() {
    let f = dsbs();
    for (args, needle) in [
        (vec!["--beta", "abc"], "--beta"),
        (vec!["--beta", "-1"], "--beta"),
        (vec!["--beta", "nan"], "--beta"),
        (
            vec!["--beta", "2", "--alpha", "0.5"],
            "--alpha only with --method dib",
        ),
        (
            vec!["--beta", "2", "--method", "dib", "--alpha", "-1"],
            "--alpha",
        ),
        (vec!["--beta", "2", "--clusters", "0"], "--clusters"),
        (vec!["--beta", "2", "--tol", "0"], "--tol"),
        (vec!["--beta", "2", "--tol", "2e-4"], "to 1e-4"),
        (vec!["--beta", "2", "--tol", "1e-300"], "epsilon (2.2e-16"),
        (
            vec!["--beta", "2", "--restarts", "3", "--init", "/tmp/any.csv"],
            "--restarts",
        ),
        (
            vec!["--beta", "2", "--init", "/nonexistent/enc.csv"],
            "/nonexistent/enc.csv",
        ),
    ] {
        let mut all = vec!["solve", f.as_str()];
        all.extend(args.iter().copied());
        let (code, stderr) = run_binary(&all);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
    // An initial encoder of the wrong shape.
    let dir = tempfile::tempdir().unwrap();
    let enc = dir.path().join("enc.csv");
    std::fs::write(&enc, "1,0,0\n0,1,0\n").unwrap();
    let (code, stderr) = run_binary(&["solve", &f, "--beta", "2", "--init", enc.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("2 rows (one per x) and 2 columns"),
        "{stderr}"
    );
}

/// Y = X (p(x) = 0.5, 0.3, 0.2): a dual-IB cluster with two members has no decoder (the
/// supports of p(y|x) do not intersect), so its distortion and the objective are +inf and
/// T = X, F = I(X;T) = H(X), is the only solution. The single-cluster start breaks down;
/// it once won the comparison of starts with F = 0, its dead cluster simply left out.
#[test]
fn dual_ib_without_a_trivial_decoder_keeps_t_equal_to_x() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("y_is_x.csv");
    std::fs::write(&f, common::Y_IS_X).unwrap();
    let h_x = common::y_is_x_entropy();
    for beta in ["0.5", "5"] {
        let v = solve_json(&[f.to_str().unwrap(), "--beta", beta, "--method", "dualib"]);
        assert_eq!(v["clusters"], 3, "{v}");
        assert_eq!(v["termination"], "converged", "{v}");
        assert!(
            (v["objective"].as_f64().unwrap() - h_x).abs() < 1e-12,
            "{v}"
        );
        assert!(v["warnings"][0].as_str().unwrap().contains("--label-noise"));
        assert!(v.get("label_noise").is_none());
    }
    // With label noise there are no zeros to warn about, and the report says what was mixed in.
    let v = solve_json(&[
        f.to_str().unwrap(),
        "--beta",
        "5",
        "--method",
        "dualib",
        "--label-noise",
        "0.01",
    ]);
    assert_eq!(v["label_noise"], 0.01, "{v}");
    assert_eq!(v["warnings"], serde_json::json!([]), "{v}");
    assert_eq!(v["termination"], "converged", "{v}");
}

#[test]
fn the_default_starts_leave_the_unstable_trivial_solution_and_frozen_points() {
    // tests/support_trap.rs has the direct-search truths of both joints.
    let dir = tempfile::tempdir().unwrap();
    let saddle = dir.path().join("saddle.csv");
    std::fs::write(
        &saddle,
        "0.854369,0.006468,0.008414\n0.039511,0.091238,0.000000\n",
    )
    .unwrap();
    let v = solve_json(&[saddle.to_str().unwrap(), "--beta", "1.832620618539814"]);
    assert_eq!(v["start"], "max-correlation split", "{v}");
    let l = v["objective"].as_f64().unwrap();
    assert!((l + 0.016404575550).abs() < 1e-9, "{v}");

    let frozen = dir.path().join("frozen.csv");
    std::fs::write(
        &frozen,
        "0.000000,0.030010,0.243162\n0.378868,0.000000,0.337543\n0.009880,0.000000,0.000537\n",
    )
    .unwrap();
    let v = solve_json(&[
        frozen.to_str().unwrap(),
        "--normalize",
        "--beta",
        "3.307370320615074",
    ]);
    let l = v["objective"].as_f64().unwrap();
    assert!((l + 0.073180152687).abs() < 1e-9, "{v}");
}

/// Two inputs whose p(y|x) differ by 1e-9: (1, 0) and (1 − 1e-9, 1e-9), p(x) = 1/2, so
/// 1/rho_m^2 = 2e9. Far above it (beta = 1e10, 1e12) the iteration keeps the inputs
/// apart, with decoders about 1e-9 apart. Counted with the fixed merging tolerance
/// sqrt(tol) = 6e-6 they were one cluster, so H(T) = 0 was reported below
/// I(X;T) = 1 bit, which no encoder allows (I(X;T) = H(T) − H(T|X) ≤ H(T)); the merging
/// tolerance is now at most 1e-2/beta.
#[test]
fn clusters_that_a_large_beta_keeps_apart_are_counted_apart() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("near.csv");
    std::fs::write(&f, "0.5,0\n0.4999999995,0.0000000005\n").unwrap();
    for beta in ["1e10", "1e12"] {
        let v = solve_json(&[f.to_str().unwrap(), "--beta", beta]);
        let i_xt = v["i_xt_bits"].as_f64().unwrap();
        let h_t = v["h_t_bits"].as_f64().unwrap();
        assert_eq!(v["termination"], "converged", "beta {beta}");
        assert!(i_xt > 0.99, "beta {beta}: I(X;T) = {i_xt} bits");
        assert!(
            h_t >= i_xt - 1e-12,
            "beta {beta}: H(T) = {h_t} < I(X;T) = {i_xt}"
        );
        assert_eq!(v["clusters"], 2, "beta {beta}");
    }
}
