//! `ibex ntk` end to end: the files, their columns and some of their values, against the
//! neural-tangents oracle through the command line; and every class of bad input gives
//! one line on standard error naming the file (line and column where there is one) and
//! exit code 2, never a panic.

mod common;

use common::{csv_rows as csv, ntk_example as example, path_str as p, run_ibex as ibex};

#[test]
fn writes_every_file_with_its_columns() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let (code, stdout, stderr) = ibex(&[
        "ntk",
        "--train",
        &example("moons_train.csv"),
        "--test",
        &example("moons_test.csv"),
        "--arch",
        "erf",
        "--depth",
        "2",
        "--w-std",
        "1.5",
        "--b-std",
        "0.1",
        "--times",
        "0,0.5,10,inf",
        "--noise-var",
        "0.01,0.1",
        "--out",
        p(&out),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("wrote") && stdout.contains("info.csv"),
        "{stdout}"
    );
    for f in [
        "kernel_nngp.csv",
        "kernel_ntk.csv",
        "predictions.csv",
        "info.csv",
        "summary.json",
        "information.svg",
        "information.png",
        "losses.svg",
        "losses.png",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    // Kernels: 30 + 12 square, symmetric.
    let k = std::fs::read_to_string(out.join("kernel_ntk.csv")).unwrap();
    let rows: Vec<Vec<f64>> = k
        .lines()
        .map(|l| l.split(',').map(|c| c.parse().unwrap()).collect())
        .collect();
    assert_eq!(rows.len(), 42);
    assert!(rows.iter().all(|r| r.len() == 42));
    assert_eq!(rows[3][17], rows[17][3]);
    // Predictions: 2 regimes x 4 times x 42 points.
    let (h, rows) = csv(&out.join("predictions.csv"));
    assert_eq!(h, ["t", "regime", "split", "index", "mean", "var"]);
    assert_eq!(rows.len(), 2 * 4 * 42);
    let train_inf: Vec<&Vec<String>> = rows
        .iter()
        .filter(|r| r[0] == "inf" && r[2] == "train")
        .collect();
    assert_eq!(train_inf.len(), 60);
    assert!(
        train_inf.iter().all(|r| r[5] == "0"),
        "zero variance on training points at t = inf"
    );
    assert!(
        rows.iter().filter(|r| r[0] == "0").all(|r| r[4] == "0"),
        "prior mean 0"
    );
    // info.csv: the columns first, one row per regime, t, noise variance.
    let (h, rows) = csv(&out.join("info.csv"));
    assert_eq!(
        &h[..10],
        [
            "t",
            "noise_var",
            "i_xz_lower",
            "i_xz_upper",
            "i_xz_exact",
            "kl_posterior_prior",
            "gibbs_loglik",
            "bayes_loglik",
            "trace_ntk",
            "regime"
        ]
    );
    assert_eq!(rows.len(), 2 * 4 * 2);
    let col = |name: &str| h.iter().position(|c| c == name).unwrap();
    for r in &rows {
        assert_eq!(r.len(), h.len());
        let get = |name: &str| r[col(name)].parse::<f64>().unwrap();
        let (lo, ex, up) = (get("i_xz_lower"), get("i_xz_exact"), get("i_xz_upper"));
        assert!(lo <= ex + 1e-12 && ex <= up + 1e-12 && up <= get("ln_m") + 1e-12);
        assert!(get("bayes_loglik") >= get("gibbs_loglik"));
        assert!(get("i_zy_lower") <= get("i_zy_exact") + 1e-12);
        assert!(get("i_zy_exact") <= get("i_zy_upper") + 1e-12);
        // Labels are +1/-1: I(Z;Y) <= H(Y) = ln 2.
        assert!(get("i_zy_upper") <= 2f64.ln() + 1e-12);
    }
    // t = 0: KL to the prior is 0; t = inf: the Q7 column is empty.
    let t0 = rows.iter().find(|r| r[0] == "0").unwrap();
    assert_eq!(t0[col("kl_posterior_prior")].parse::<f64>().unwrap(), 0.0);
    let tinf = rows.iter().find(|r| r[0] == "inf").unwrap();
    assert_eq!(tinf[col("i_theta_d_code")], "");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["n_train"], 30);
    // One target column: one output channel, and predictions.csv's columns as above.
    assert_eq!(summary["n_outputs"], 1);
    let pc = summary["predictions_columns"].as_object().unwrap();
    let mut keys: Vec<&str> = pc.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["index", "mean", "regime", "split", "t", "var"]);
    assert_eq!(
        summary["times"],
        serde_json::json!(["0", "0.5", "10", "inf"])
    );
    assert!(summary["info_columns"]["i_xz_lower"]
        .as_str()
        .unwrap()
        .contains("nats"));
    let png = std::fs::read(out.join("information.png")).unwrap();
    assert_eq!(&png[1..4], b"PNG");
    let svg = std::fs::read_to_string(out.join("information.svg")).unwrap();
    assert!(svg.contains("I(X;Z) lower [ntk]"));
}

#[test]
fn matches_the_oracle_through_the_command_line_at_256_bits() {
    // The oracle's relu_d1_w1.5_b0.1 case, written as CSV files.
    let c = common::reference("ntk/relu_d1_w1.5_b0.1.json");
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, x: &serde_json::Value, y: &serde_json::Value| {
        let mut s = String::from("a,b,c,target\n");
        for (xr, yr) in x.as_array().unwrap().iter().zip(y.as_array().unwrap()) {
            let cells: Vec<String> = xr
                .as_array()
                .unwrap()
                .iter()
                .chain(yr.as_array().unwrap())
                .map(|v| format!("{:?}", v.as_f64().unwrap()))
                .collect();
            s.push_str(&cells.join(","));
            s.push('\n');
        }
        let path = dir.path().join(name);
        std::fs::write(&path, s).unwrap();
        path
    };
    let tr = write(
        "train.csv",
        &c["inputs"]["x_train"],
        &c["inputs"]["y_train"],
    );
    let te = write("test.csv", &c["inputs"]["x_test"], &c["inputs"]["y_test"]);
    let out = dir.path().join("out");
    let (code, _, stderr) = ibex(&[
        "ntk",
        "--train",
        p(&tr),
        "--test",
        p(&te),
        "--arch",
        "relu",
        "--depth",
        "1",
        "--w-std",
        "1.5",
        "--b-std",
        "0.1",
        "--times",
        "1,inf",
        "--noise-var",
        "0.1",
        "--precision",
        "256",
        "--out",
        p(&out),
    ]);
    assert_eq!(code, 0, "{stderr}");
    // Decimal inputs are read at 256 bits, so the numbers differ from the f64 oracle by
    // about 1e-16 relative: compare at 1e-12.
    let k = std::fs::read_to_string(out.join("kernel_nngp.csv")).unwrap();
    let first: f64 = k
        .lines()
        .next()
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!((first - 0.9430468750000001).abs() < 1e-12);
    // An entry that is not short in binary carries the 256-bit digits.
    assert!(
        k.lines().nth(1).unwrap().split(',').next().unwrap().len() > 60,
        "256-bit digits"
    );
    let (h, rows) = csv(&out.join("info.csv"));
    let col = |name: &str| h.iter().position(|c| c == name).unwrap();
    let ntk_t1 = rows
        .iter()
        .find(|r| r[0] == "1" && r[col("regime")] == "ntk")
        .unwrap();
    let want = c["derived"]["ntk"]["ixz"]["0.1"]["lower"][2]
        .as_f64()
        .unwrap();
    let got: f64 = ntk_t1[col("i_xz_lower")].parse().unwrap();
    assert!((got - want).abs() < 1e-10, "{got} vs {want}");
    let want = c["derived"]["ntk"]["bayes_loglik"][2].as_f64().unwrap();
    let got: f64 = ntk_t1[col("bayes_loglik")].parse().unwrap();
    assert!((got - want).abs() < 1e-10, "{got} vs {want}");
    let (_, preds) = csv(&out.join("predictions.csv"));
    let row = preds
        .iter()
        .find(|r| r[0] == "inf" && r[1] == "nngp" && r[2] == "test" && r[3] == "2")
        .unwrap();
    let want = c["predictions"]["nngp"]["test"]["cov"][5][2][2]
        .as_f64()
        .unwrap();
    assert!((row[5].parse::<f64>().unwrap() - want).abs() < 1e-12);
}

#[test]
fn range_grid_and_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o");
    let (code, stdout, stderr) = ibex(&[
        "ntk",
        "--train",
        &example("moons_train.csv"),
        "--test",
        &example("moons_test.csv"),
        "--t-min",
        "0.1",
        "--t-max",
        "100",
        "--steps",
        "4",
        "--noise-var",
        "0",
        "--regime",
        "ntk",
        "--points",
        "train",
        "--out",
        p(&out),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let (h, rows) = csv(&out.join("info.csv"));
    let col = |name: &str| h.iter().position(|c| c == name).unwrap();
    let times: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(times, ["0", "0.1", "1", "10", "100", "inf"]);
    // Zero noise and zero variance on the training points at t = inf: empty and said.
    let inf = rows.last().unwrap();
    assert_eq!(inf[col("i_xz_lower")], "");
    assert!(
        stdout.contains("warning:") && stdout.contains("t = inf"),
        "{stdout}"
    );
    let (_, rows) = csv(&out.join("predictions.csv"));
    assert!(rows.iter().all(|r| r[1] == "ntk"));
}

/// `predictions.csv` of a study with two output channels (the oracle's
/// relu_d1_w1.5_b0.1_k2 case, run through the library: the command line reads one
/// target column) holds both channels' means, `mean_0` and `mean_1`, and the variance
/// they share, each equal to the oracle's. It used to hold channel 0 alone.
#[test]
fn predictions_csv_holds_every_output_channel() {
    use ibex::ntk::ensemble::{Regime, Time, Training};
    use ibex::ntk::kernel::{Activation, FcNetwork};
    use ibex::ntk::study::{run_study, PointSet, StudyConfig};
    use nalgebra::DMatrix;
    let c = common::reference("ntk/relu_d1_w1.5_b0.1_k2.json");
    let matrix = |v: &serde_json::Value| {
        let rows = v.as_array().unwrap();
        let ncols = rows[0].as_array().unwrap().len();
        DMatrix::from_fn(rows.len(), ncols, |i, j| rows[i][j].as_f64().unwrap())
    };
    let inputs = &c["inputs"];
    let y_train = matrix(&inputs["y_train"]);
    assert_eq!(y_train.ncols(), 2, "two output channels");
    let net = FcNetwork::uniform(Activation::Relu, 1, 1.5, 0.1).unwrap();
    let times: Vec<Time<f64>> = c["times"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_f64().map_or(Time::Infinity, Time::At))
        .collect();
    let config = StudyConfig {
        times: times.clone(),
        noise_vars: vec![0.1],
        points: PointSet::All,
        regimes: vec![Regime::Ntk, Regime::Nngp],
        training: Training::default(),
        exact_max_points: 4000,
    };
    let study = run_study(
        &net,
        &matrix(&inputs["x_train"]),
        &y_train,
        &matrix(&inputs["x_test"]),
        &matrix(&inputs["y_test"]),
        &config,
    )
    .unwrap();
    let text = study.predictions_csv();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "t,regime,split,index,mean_0,mean_1,var"
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    // Rows in the study's order: regime, t, split, index.
    let mut want = Vec::new();
    for regime in ["ntk", "nngp"] {
        for (ti, t) in times.iter().enumerate() {
            for split in ["train", "test"] {
                let p = &c["predictions"][regime][split];
                let (mean, cov) = (matrix(&p["mean"][ti]), matrix(&p["cov"][ti]));
                for i in 0..mean.nrows() {
                    let cells = [mean[(i, 0)], mean[(i, 1)], cov[(i, i)]];
                    want.push((t.to_text(), regime, split, i, cells));
                }
            }
        }
    }
    assert_eq!(rows.len(), want.len());
    for (r, (t, regime, split, i, cells)) in rows.iter().zip(&want) {
        assert_eq!(r.len(), 7, "{r:?}");
        assert_eq!((r[0], r[1], r[2]), (t.as_str(), *regime, *split), "{r:?}");
        assert_eq!(r[3], i.to_string());
        for (got, w) in r[4..].iter().zip(cells) {
            let got: f64 = got.parse().unwrap();
            assert!(
                (got - w).abs() <= 1e-12 * w.abs().max(1.0),
                "{r:?}: {got} vs {w}"
            );
        }
    }
    // The channels differ, so channel 1 is not a copy of channel 0.
    assert!(rows.iter().any(|r| r[4] != r[5]));
    let var = study.prediction_columns().pop().unwrap();
    assert_eq!(var.0, "var");
    assert!(
        var.1.contains("the same for every output channel"),
        "{var:?}"
    );
}

/// Runs `ibex ntk` with a bad file or argument and returns stderr (one line, exit 2).
fn bad(train: &[u8], test: &[u8], extra: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let tr = dir.path().join("train.csv");
    let te = dir.path().join("test.csv");
    std::fs::write(&tr, train).unwrap();
    std::fs::write(&te, test).unwrap();
    let out = dir.path().join("o");
    let mut args = vec!["ntk", "--train", p(&tr), "--test", p(&te), "--out", p(&out)];
    args.extend_from_slice(extra);
    let (code, _, stderr) = ibex(&args);
    assert_eq!(code, 2, "exit code; stderr {stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

const GOOD: &[u8] = b"x1,x2,y\n0.1,0.2,1\n0.3,-0.4,0\n1,2,1\n";

#[test]
fn bad_input_is_one_located_line_and_exit_2() {
    let e = bad(b"0.1,0.2,1\n0.3,-0.4\n", GOOD, &[]);
    assert!(
        e.contains("train.csv:2:9: found 2 fields, expected 3 fields"),
        "{e}"
    );
    let e = bad(GOOD, b"0.1,abc,1\n", &[]);
    assert!(
        e.contains("test.csv:1:5: found `abc`, expected a decimal number"),
        "{e}"
    );
    let e = bad(b"0.1,nan,1\n0,0,0\n", GOOD, &[]);
    assert!(
        e.contains("train.csv:1:5: found `nan`, expected a finite"),
        "{e}"
    );
    let e = bad(b"x,y\n0.1,1\n", GOOD, &[]);
    assert!(
        e.contains("train.csv: found 1 data row, expected at least 2"),
        "{e}"
    );
    let e = bad(GOOD, b"# nothing\n", &[]);
    assert!(
        e.contains("test.csv: found 0 data rows, expected at least 1"),
        "{e}"
    );
    let e = bad(b"1\n2\n", GOOD, &[]);
    assert!(
        e.contains("train.csv:1:2: found 1 field, expected at least 2 fields"),
        "{e}"
    );
    let e = bad(GOOD, b"1,2,3,4\n", &[]);
    assert!(
        e.contains("test.csv:1:1: found 3 input columns, expected 2 input columns"),
        "{e}"
    );
    let e = bad(GOOD, GOOD, &["--arch", "tanh"]);
    assert!(
        e.contains("--arch") && e.contains("relu, erf or identity"),
        "{e}"
    );
    let e = bad(GOOD, GOOD, &["--noise-var", "-0.1"]);
    assert!(e.contains("--noise-var") && e.contains(">= 0"), "{e}");
    let e = bad(GOOD, GOOD, &["--times", "0,-1"]);
    assert!(e.contains("--times") && e.contains("`-1`"), "{e}");
    // An empty item is refused, as in --betas (it was skipped), and a time beyond f64's
    // range is not t = inf (it became inf silently).
    let e = bad(GOOD, GOOD, &["--times", "1,,2"]);
    assert!(e.contains("--times") && e.contains("``"), "{e}");
    let e = bad(GOOD, GOOD, &["--noise-var", "0.1,"]);
    assert!(e.contains("--noise-var") && e.contains("``"), "{e}");
    let e = bad(GOOD, GOOD, &["--times", "0,1e400"]);
    assert!(
        e.contains("--times") && e.contains("beyond the range") && e.contains("inf"),
        "{e}"
    );
    assert!(matches!(
        ibex::ntk::ensemble::Time::<ibex::scalar::Mp128>::parse("1e400"),
        Ok(ibex::ntk::ensemble::Time::At(_))
    ));
    let e = bad(GOOD, GOOD, &["--times", "1", "--steps", "3"]);
    assert!(e.contains("one of the two ways"), "{e}");
    let e = bad(
        GOOD,
        GOOD,
        &["--t-min", "0", "--t-max", "1", "--steps", "3"],
    );
    assert!(e.contains("0 < t-min < t-max"), "{e}");
    let e = bad(GOOD, GOOD, &["--w-std", "-1"]);
    assert!(e.contains("--w-std"), "{e}");
    let e = bad(GOOD, GOOD, &["--diag-reg", "x"]);
    assert!(e.contains("--diag-reg"), "{e}");
    let e = bad(GOOD, GOOD, &["--regime", "gp"]);
    assert!(e.contains("ntk, nngp or both"), "{e}");
    let (code, _, stderr) = ibex(&[
        "ntk",
        "--train",
        "/nonexistent/t.csv",
        "--test",
        "/nonexistent/u.csv",
        "--out",
        "/tmp/x",
    ]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("/nonexistent/t.csv") && stderr.lines().count() == 1,
        "{stderr}"
    );
}
