//! The command line: `info` in every format and precision, `gen` reproducing the
//! bundled data bit for bit, `demo`, and one test per class of bad input (one line on
//! standard error naming the file, line and column; exit code 2; no panic).

mod common;

use common::{example, path_str as path, run_cli};

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

fn info_json(args: &[&str]) -> Value {
    let mut all = vec!["info"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--format", "json"]);
    serde_json::from_str(&run_cli(&all).unwrap()).unwrap()
}

#[test]
fn info_json_has_the_stable_keys() {
    let f = example("dsbs_e0.1.csv");
    let v = info_json(&[path(&f)]);
    for key in [
        "shape",
        "h_x_bits",
        "h_y_bits",
        "h_xy_bits",
        "h_y_given_x_bits",
        "i_xy_bits",
        "rho_m",
        "beta_critical_first",
        "precision_bits",
    ] {
        assert!(v.get(key).is_some(), "missing key {key}");
    }
    assert_eq!(v["shape"], serde_json::json!([2, 2]));
    assert_eq!(v["precision_bits"], 53);
    assert!((v["i_xy_bits"].as_f64().unwrap() - 0.5310044064107188).abs() < 1e-15);
    assert!((v["beta_critical_first"].as_f64().unwrap() - 1.5625).abs() < 1e-13);
    assert!(v.get("i_xy_bits_decimal").is_none());
}

/// A point mass (a 1x1 joint) has every entropy 0: +0, not the −0 that −Σ p ln p gives
/// when the only term is 1·ln 1 = +0 (it printed as `H(X,Y) -0.0 bits`).
#[test]
fn entropies_of_a_point_mass_are_plus_zero() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("one.csv");
    std::fs::write(&f, "1\n").unwrap();
    let v = info_json(&[path(&f)]);
    for key in [
        "h_x_bits",
        "h_y_bits",
        "h_xy_bits",
        "h_y_given_x_bits",
        "i_xy_bits",
    ] {
        let h = v[key].as_f64().unwrap();
        assert!(h == 0.0 && h.is_sign_positive(), "{key} = {h:?}");
    }
}

/// X and Y independent: no first critical beta. At 256 bits the value was `null` in JSON
/// and its decimal twin "inf"; both are null now (and both cells empty in CSV).
#[test]
fn an_infinite_value_is_null_with_its_decimal() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("ind.csv");
    std::fs::write(&f, "0.25,0.25\n0.25,0.25\n").unwrap();
    let v = info_json(&[path(&f), "--precision", "256"]);
    assert!(v["beta_critical_first"].is_null(), "{v}");
    assert!(v["beta_critical_first_decimal"].is_null(), "{v}");
    assert_eq!(v["rho_m_decimal"], "0", "{v}");
}

#[test]
fn info_above_f64_adds_decimal_strings() {
    let f = example("ib_3x3.csv");
    let v = info_json(&[path(&f), "--precision", "256"]);
    assert_eq!(v["precision_bits"], 256);
    let dec = v["i_xy_bits_decimal"].as_str().unwrap();
    // mpmath (data/reference/info_mpmath.json): 0.48560441546302421468390336010700011742615271457676...
    let want = "4.856044154630242146839033601070001174261527145767";
    assert!(dec.starts_with(want), "{dec}");
    assert!(v["beta_critical_first_decimal"]
        .as_str()
        .unwrap()
        .starts_with("2.147313370952437575041678743751"));
}

#[test]
fn info_table_and_csv() {
    let f = example("binary_x_hysteresis.csv");
    let table = run_cli(&["info", path(&f)]).unwrap();
    assert!(
        table.contains("I(X;Y)") && table.contains("bits"),
        "{table}"
    );
    let csv = run_cli(&["info", path(&f), "--format", "csv"]).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 2);
    let keys: Vec<&str> = lines[0].split(',').collect();
    let values: Vec<&str> = lines[1].split(',').collect();
    assert_eq!(keys.len(), values.len());
    let beta = values[keys
        .iter()
        .position(|k| *k == "beta_critical_first")
        .unwrap()];
    assert!((beta.parse::<f64>().unwrap() - 4.469387755102041).abs() < 1e-12);
}

/// Independent X and Y written with rounding (each p(x,y) the f64 product p(x) p(y), as a
/// user's file has it) have rho_m of about 1e-16, not 0: `info` flags it as rounding and
/// reports no first critical beta, as `anneal` prints no threshold. A dependence of
/// 1 - 2E = 1e-6 (DSBS, rho_m = 1e-6 exactly) is kept with its closed form 1/rho_m^2 = 1e12.
#[test]
fn info_flags_a_maximal_correlation_at_rounding_level() {
    let dir = tempfile::tempdir().unwrap();
    let rounded = dir.path().join("rounded_product.csv");
    let (p_x, p_y) = ([0.3, 0.7], [0.17, 0.29, 0.54]);
    let rows: Vec<String> = p_x
        .iter()
        .map(|a| {
            let cells: Vec<String> = p_y.iter().map(|b| format!("{:?}", a * b)).collect();
            cells.join(",")
        })
        .collect();
    std::fs::write(&rounded, rows.join("\n") + "\n").unwrap();
    let v = info_json(&[path(&rounded)]);
    let rho_m = v["rho_m"].as_f64().unwrap();
    assert!(rho_m > 0.0 && rho_m < 1e-14, "{rho_m}");
    assert_eq!(v["rho_m_at_rounding_level"], true);
    assert!(
        v["beta_critical_first"].is_null(),
        "{}",
        v["beta_critical_first"]
    );

    let weak = dir.path().join("dsbs_weak.csv");
    let e = 0.5 * (1.0 - 1e-6);
    std::fs::write(
        &weak,
        format!(
            "{},{}\n{},{}\n",
            (1.0 - e) / 2.0,
            e / 2.0,
            e / 2.0,
            (1.0 - e) / 2.0
        ),
    )
    .unwrap();
    let v = info_json(&[path(&weak)]);
    assert_eq!(v["rho_m_at_rounding_level"], false);
    let beta = v["beta_critical_first"].as_f64().unwrap();
    assert!((beta / 1e12 - 1.0).abs() < 1e-6, "{beta}");
}

#[test]
fn info_long_counts_keeps_labels_and_reports_the_total() {
    let f = example("weather_counts_long.csv");
    let v = info_json(&[path(&f), "--long", "--counts"]);
    assert_eq!(v["shape"], serde_json::json!([3, 3]));
    assert_eq!(v["total_count"], 120.0);
}

#[test]
fn info_normalize_reports_the_original_sum() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("w.csv");
    std::fs::write(&f, "1,2\n3,4\n").unwrap();
    let v = info_json(&[path(&f), "--normalize"]);
    assert_eq!(v["normalized_from_sum"], 10.0);
    let also_counts = info_json(&[path(&f), "--counts"]);
    assert_eq!(also_counts["i_xy_bits"], v["i_xy_bits"]);
}

#[test]
fn zero_rows_are_dropped_and_listed() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("z.csv");
    std::fs::write(&f, "0.5,0\n0,0\n0.25,0.25\n").unwrap();
    let v = info_json(&[path(&f)]);
    assert_eq!(v["shape"], serde_json::json!([2, 2]));
    assert_eq!(v["dropped_x"], serde_json::json!(["1"]));
}

#[test]
fn generators_reproduce_the_bundled_files_exactly() {
    let dir = tempfile::tempdir().unwrap();
    for (args, file) in [
        (vec!["gen", "dsbs", "--crossover", "0.1"], "dsbs_e0.1.csv"),
        (
            vec!["gen", "gaussian", "--n", "32", "--rho", "0.9"],
            "gaussian_rho0.9_n32.csv",
        ),
        (
            vec![
                "gen",
                "dirichlet",
                "--nx",
                "64",
                "--ny",
                "16",
                "--seed",
                "1",
            ],
            "dirichlet_64x16_seed1.csv",
        ),
        (
            vec![
                "gen", "sparse", "--nx", "32", "--ny", "16", "--nnz", "3", "--seed", "1",
            ],
            "sparse_32x16_nnz3_seed1.csv",
        ),
    ] {
        let out: PathBuf = dir.path().join(file);
        let mut all = args.clone();
        all.extend_from_slice(&["--out", path(&out)]);
        run_cli(&all).unwrap();
        let made = std::fs::read_to_string(&out).unwrap();
        let shipped = std::fs::read_to_string(example(file)).unwrap();
        assert_eq!(
            made,
            shipped,
            "{file} differs from `ibex {}`",
            args.join(" ")
        );
        // Every generated file is an exact distribution at 1024 bits too.
        info_json(&[path(&out), "--precision", "1024"]);
    }
}

#[test]
fn demo_runs_on_the_bundled_data() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("demo");
    let out = run_cli(&["demo", "--out", path(&folder)]).unwrap();
    assert!(out.contains("data/examples/ib_3x3.csv"));
    assert!(out.contains("2.147313"));
    assert!(
        out.contains("5.310044064107187787464106696166795399028345408218852967655983823580420334")
    );
    // The sweeps with their bifurcations, for the IB and the dual IB, and where the files
    // went: the 3x3 example's first split going up is at 1/rho_m^2 and its first change
    // going down at the onset 1/s* (spec ib §5).
    for method in ["ib", "dualib"] {
        assert!(out.contains(&format!("{method} sweep of")), "{out}");
        for file in [
            "path.csv",
            "bifurcations.csv",
            "summary.json",
            "encoders.csv",
            "decoders.csv",
            "information_plane.svg",
            "information_plane.png",
            "bifurcation_diagram.svg",
            "bifurcation_diagram.png",
        ] {
            let written = folder.join(method).join(file);
            assert!(
                out.contains(&format!("wrote {}", written.display())),
                "{file}"
            );
            assert!(std::fs::metadata(&written).unwrap().len() > 100, "{file}");
        }
        // The diagram draws the whole decoder: one panel per y of the 3x3 joint.
        let svg =
            std::fs::read_to_string(folder.join(method).join("bifurcation_diagram.svg")).unwrap();
        for y in 0..3 {
            assert_eq!(
                svg.matches(&format!("q(y = {y}|t)")).count(),
                1,
                "{method} {y}"
            );
        }
    }
    assert!(
        out.contains("up          linear         2.14731337095243"),
        "{out}"
    );
    assert!(
        out.contains("down        nucleation      2.12943247427628"),
        "{out}"
    );
}

/// Runs the real binary and returns (exit code, stderr).
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

/// Writes `content` to a temp file named `name` and runs `ibex info` on it with `extra`.
fn bad_input(name: &str, content: &[u8], extra: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join(name);
    std::fs::write(&f, content).unwrap();
    let mut args = vec!["info", path(&f)];
    args.extend_from_slice(extra);
    let (code, stderr) = run_binary(&args);
    assert_eq!(code, 2, "{name}: exit code, stderr {stderr}");
    assert_eq!(
        stderr.lines().count(),
        1,
        "{name}: one line expected, got {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        stderr.contains(name),
        "{name}: the message names the file: {stderr}"
    );
    stderr
}

#[test]
fn bad_input_missing_file() {
    let (code, stderr) = run_binary(&["info", "/nonexistent/dir/p.csv"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("/nonexistent/dir/p.csv") && stderr.contains("No such file"),
        "{stderr}"
    );
}

#[test]
fn bad_input_empty_file() {
    let e = bad_input("empty.csv", b"", &[]);
    assert!(e.contains("found no data"), "{e}");
    let e = bad_input("comments.csv", b"# only a comment\n\n", &[]);
    assert!(e.contains("found no data"), "{e}");
}

#[test]
fn bad_input_non_numeric_cell() {
    let e = bad_input("nonnum.csv", b"0.5,0.25\n0.2,x5\n", &[]);
    assert!(
        e.contains("nonnum.csv:2:5: found `x5`, expected a non-negative decimal number"),
        "{e}"
    );
}

#[test]
fn bad_input_ragged_row() {
    let e = bad_input("ragged.csv", b"0.25,0.25\n0.25,0.2,0.05\n", &[]);
    assert!(
        e.contains("ragged.csv:2:10: found 3 fields, expected 2 fields, as on line 1"),
        "{e}"
    );
}

#[test]
fn bad_input_negative_entry() {
    let e = bad_input("neg.csv", b"# c\n0.75,  -0.25\n0.5,0\n", &[]);
    assert!(
        e.contains("neg.csv:2:8: found the negative value `-0.25`"),
        "{e}"
    );
}

#[test]
fn bad_input_nan_and_infinity() {
    let e = bad_input("nan.csv", b"0.5,NaN\n0.5,0\n", &[]);
    assert!(
        e.contains("nan.csv:1:5: found `NaN`, expected a finite"),
        "{e}"
    );
    let e = bad_input("inf.csv", b"0.5,0\ninf,0\n", &["--precision", "256"]);
    assert!(
        e.contains("inf.csv:2:1: found `inf`, expected a finite"),
        "{e}"
    );
}

/// f64 cannot hold a non-zero decimal below 2.2e-308: 1e-400 reads as 0 (a different
/// support) and 4.9e-324 as a subnormal with one significant bit. Both are refused with
/// the cell's position in f64, and read at 128 bits, where `0.5,1e-400` sums to
/// 0.5 + 1e-400 (so --normalize is needed) and the tiny cell keeps its value.
#[test]
fn bad_input_values_below_the_f64_range() {
    for (name, cell) in [("under.csv", "1e-400"), ("subn.csv", "4.9e-324")] {
        let text = format!("0.5,{cell}\n0,0.5\n");
        let e = bad_input(name, text.as_bytes(), &[]);
        assert!(
            e.contains(&format!(
                "{name}:1:5: found `{cell}`, a non-zero value below"
            )),
            "{e}"
        );
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join(name);
        std::fs::write(&f, &text).unwrap();
        let v = info_json(&[path(&f), "--precision", "128", "--normalize"]);
        assert_eq!(v["precision_bits"], 128, "{v}");
    }
    // Zeros written with an exponent or many digits stay zeros.
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("zeros.csv");
    std::fs::write(&f, "0.5,0e-400\n0.000000000000,0.5\n").unwrap();
    let v = info_json(&[path(&f)]);
    assert_eq!(v["precision_bits"], 53, "{v}");
}

#[test]
fn bad_input_all_zeros() {
    let e = bad_input("zeros.csv", b"0,0\n0,0\n", &[]);
    assert!(e.contains("found only zeros"), "{e}");
    let e = bad_input("zeros_n.csv", b"0,0\n0,0\n", &["--normalize"]);
    assert!(e.contains("zero"), "{e}");
    let e = bad_input("zeros_c.csv", b"0,0\n0,0\n", &["--counts"]);
    assert!(e.contains("zero"), "{e}");
}

#[test]
fn bad_input_sum_off_suggests_normalize() {
    let e = bad_input("sum.csv", b"0.3,0.3\n0.3,0.3\n", &[]);
    assert!(e.contains("sum to 1.2") && e.contains("--normalize"), "{e}");
}

#[test]
fn bad_input_count_not_an_integer() {
    let e = bad_input("cnt.csv", b"1,2\n3,4.5\n", &["--counts"]);
    assert!(
        e.contains("cnt.csv:2:3: found `4.5`, expected a non-negative integer count"),
        "{e}"
    );
}

#[test]
fn bad_input_long_duplicate_pair() {
    let e = bad_input(
        "dup.csv",
        b"x,y,p\na,u,0.5\nb,u,0.25\na,u,0.25\n",
        &["--long"],
    );
    assert!(
        e.contains(
            "dup.csv:4:1: found a second entry for x = `a`, y = `u` (the first is on line 2)"
        ),
        "{e}"
    );
}

#[test]
fn bad_input_long_unknown_header_and_empty_label() {
    let e = bad_input("hdr.csv", b"x,y,prob\na,u,1\n", &["--long"]);
    assert!(
        e.contains("hdr.csv:1:5: found the header `x,y,prob`, expected the header `x,y,p`"),
        "{e}"
    );
    let e = bad_input("lbl.csv", b"x,y,p\na, ,1\n", &["--long"]);
    assert!(e.contains("lbl.csv:2:3: found an empty label"), "{e}");
    let e = bad_input("hdrc.csv", b"x,y,p\na,u,1\n", &["--long", "--counts"]);
    assert!(e.contains("hdrc.csv:1:5"), "{e}");
}

#[test]
fn bad_input_absurd_size() {
    // A long file of 16,400 lines whose dense table would have 8,200 x 8,200 cells.
    let mut text = String::from("x,y,p\nx0,y0,1\n");
    for i in 1..8200 {
        text.push_str(&format!("x{i},y0,0\nx0,y{i},0\n"));
    }
    let e = bad_input("huge.csv", text.as_bytes(), &["--long", "--normalize"]);
    assert!(e.contains("expected at most 67108864 cells"), "{e}");
    let (code, stderr) = run_binary(&[
        "gen",
        "dirichlet",
        "--nx",
        "100000",
        "--ny",
        "100000",
        "--seed",
        "1",
    ]);
    assert_eq!(code, 2);
    assert!(stderr.contains("at most 16777216 cells"), "{stderr}");
}

#[test]
fn bad_input_not_utf8() {
    let e = bad_input("bin.csv", b"0.5,0.5\n0.\xff\n", &[]);
    assert!(
        e.contains("bin.csv:2:3: found a byte that is not UTF-8"),
        "{e}"
    );
}

#[test]
fn bad_parameters_exit_2() {
    let f = example("dsbs_e0.1.csv");
    let (code, stderr) = run_binary(&["info", path(&f), "--precision", "77"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("expected f64, 128, 256, 512 or 1024"),
        "{stderr}"
    );
    let (code, stderr) = run_binary(&["gen", "dsbs", "--crossover", "1.5"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("--crossover") && stderr.contains("[0, 1]"),
        "{stderr}"
    );
    let (code, _) = run_binary(&["gen", "gaussian", "--n", "10", "--rho", "1"]);
    assert_eq!(code, 2);
    for bad in ["1.5", "-0.1", "nan", "abc"] {
        let (code, stderr) = run_binary(&["info", path(&f), "--label-noise", bad]);
        assert_eq!(code, 2, "{bad}");
        assert!(
            stderr.contains("--label-noise") && stderr.contains("[0, 1]"),
            "{stderr}"
        );
    }
}

/// Uniform label noise ε on the DSBS with crossover E is the DSBS with crossover
/// (1 − ε)E + ε/2: at 256 bits `info` of the noisy file agrees with `info` of the
/// generated DSBS (exact decimal arithmetic) to the last digits, and the label noise is
/// reported.
#[test]
fn label_noise_on_the_dsbs_is_the_dsbs_with_a_larger_crossover() {
    let dir = tempfile::tempdir().unwrap();
    let noisier = dir.path().join("dsbs_0.18.csv");
    run_cli(&[
        "gen",
        "dsbs",
        "--crossover",
        "0.18",
        "--out",
        path(&noisier),
    ])
    .unwrap();
    let f = example("dsbs_e0.1.csv");
    let noisy = info_json(&[path(&f), "--label-noise", "0.2", "--precision", "256"]);
    let exact = info_json(&[path(&noisier), "--precision", "256"]);
    // 0.2 parsed at 256 bits (the nearest binary number, 77 digits).
    let eps = noisy["label_noise_decimal"].as_str().unwrap();
    assert!(eps.starts_with(&format!("2.{}", "0".repeat(70))), "{eps}");
    assert!(exact.get("label_noise").is_none());
    for key in ["i_xy_bits", "h_y_given_x_bits", "rho_m"] {
        let (a, b) = (
            noisy[format!("{key}_decimal")].as_str().unwrap(),
            exact[format!("{key}_decimal")].as_str().unwrap(),
        );
        // 70 significant digits of 77.
        assert_eq!(a[..72], b[..72], "{key}: {a} vs {b}");
    }
    // And in f64, the closed form 1 - h(0.18) bits.
    let v = info_json(&[path(&f), "--label-noise", "0.2"]);
    let h = |p: f64| -p * p.log2() - (1.0 - p) * (1.0 - p).log2();
    assert!((v["i_xy_bits"].as_f64().unwrap() - (1.0 - h(0.18))).abs() < 1e-15);
    assert!((v["rho_m"].as_f64().unwrap() - 0.64).abs() < 1e-15);
}
