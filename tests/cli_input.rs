//! Input handling of the command line: generators whose weights underflow, outputs that
//! would overwrite inputs, negative numbers given to flags, bad `--out` paths checked
//! before the work, `--locate-tol` outside (0, 1), `clusters_allowed`, and a count total
//! above 2^64 - 1. Each error is checked to name the flag and say what was expected.

mod common;

use common::{example, path_str as path, run_cli, run_ibex as run_binary};

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The data rows of generated CSV as numbers.
fn table(csv: &str) -> Vec<Vec<f64>> {
    csv.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.split(',').map(|v| v.parse().unwrap()).collect())
        .collect()
}

fn gaussian_table(n: &str, rho: &str, range: &str) -> Vec<Vec<f64>> {
    table(&run_cli(&["gen", "gaussian", "--n", n, "--rho", rho, "--range", range]).unwrap())
}

/// The discretised Gaussian computed here from its formula, in log space relative to the
/// largest cell (finite for these ranges: |u| <= L, so u² <= 4e4).
fn gaussian_reference(n: usize, rho: f64, range: f64) -> Vec<Vec<f64>> {
    let centre = |i: usize| -range + (i as f64 + 0.5) * 2.0 * range / n as f64;
    let log = |i: usize, j: usize| {
        let (u, v) = (centre(i), centre(j));
        -(u * u - 2.0 * rho * u * v + v * v) / (2.0 * (1.0 - rho * rho))
    };
    let top = (0..n)
        .flat_map(|i| (0..n).map(move |j| (i, j)))
        .map(|(i, j)| log(i, j))
        .fold(f64::NEG_INFINITY, f64::max);
    let w: Vec<Vec<f64>> = (0..n)
        .map(|i| (0..n).map(|j| (log(i, j) - top).exp()).collect())
        .collect();
    let total: f64 = w.iter().flatten().sum();
    w.iter()
        .map(|r| r.iter().map(|v| v / total).collect())
        .collect()
}

fn assert_close(a: &[Vec<f64>], b: &[Vec<f64>], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}");
    for (ra, rb) in a.iter().zip(b) {
        for (x, y) in ra.iter().zip(rb) {
            assert!((x - y).abs() < 1e-14, "{what}: {a:?} vs {b:?}");
        }
    }
}

#[test]
fn gaussian_on_a_wide_range_keeps_its_shape() {
    // n = 4, rho = 0.5: every cell density underflows from L ~ 134 on (the largest is
    // exp(-(L/4)²/1.5)). The mass is on the two central diagonal cells, half each, the
    // table symmetric under (x, y) -> (-x, -y); as at L = 120, where the largest does not
    // underflow yet.
    for range in ["120", "150", "200"] {
        let t = gaussian_table("4", "0.5", range);
        let reference = gaussian_reference(4, 0.5, range.parse().unwrap());
        assert!((reference[1][1] - 0.5).abs() < 1e-15);
        assert_close(&t, &reference, range);
        for i in 0..4 {
            for j in 0..4 {
                assert!((t[i][j] - t[3 - i][3 - j]).abs() < 1e-15, "{range}: {t:?}");
            }
        }
    }
    // Where u² overflows: the same structure, and for odd n the single centre cell.
    let half = vec![
        vec![0.0, 0.0, 0.0, 0.0],
        vec![0.0, 0.5, 0.0, 0.0],
        vec![0.0, 0.0, 0.5, 0.0],
        vec![0.0, 0.0, 0.0, 0.0],
    ];
    assert_close(&gaussian_table("4", "0.5", "1e300"), &half, "1e300");
    let t = gaussian_table("5", "0.5", "1e300");
    assert_eq!(t[2][2], 1.0, "{t:?}");
    // A negative correlation (also a negative number reaching the flag): the mass moves
    // to the anti-diagonal.
    let t = gaussian_table("4", "-0.5", "150");
    assert_close(&t, &gaussian_reference(4, -0.5, 150.0), "rho -0.5");
    assert!((t[1][2] - 0.5).abs() < 1e-15 && (t[2][1] - 0.5).abs() < 1e-15);
    // A grid where nothing underflows agrees with the same reference.
    assert_close(
        &gaussian_table("12", "0.9", "6"),
        &gaussian_reference(12, 0.9, 6.0),
        "n 12",
    );
}

#[test]
fn dirichlet_with_a_tiny_alpha_favours_no_column() {
    // Dir(a, a, a) is exchangeable: the largest share falls in each column with
    // probability 1/3 and each share has mean 1/3. At a = 0.001 every gamma draw of a row
    // underflows in about 11% of seeds, which used to put all of them in the last column.
    let seeds = 30_000u64;
    let mut argmax = [0u64; 3];
    let mut mean = [0.0f64; 3];
    for seed in 0..seeds {
        let g = ibex::gen::dirichlet(1, 3, seed, 0.001).unwrap();
        let row: Vec<f64> = g.rows[0].iter().map(|v| v.parse().unwrap()).collect();
        let k = (0..3)
            .max_by(|&a, &b| row[a].partial_cmp(&row[b]).unwrap())
            .unwrap();
        argmax[k] += 1;
        for (m, v) in mean.iter_mut().zip(&row) {
            *m += v / seeds as f64;
        }
    }
    // 10000 expected per column, standard deviation 82.
    for (count, share) in argmax.iter().zip(mean) {
        assert!(count.abs_diff(10_000) < 500, "{argmax:?}");
        assert!((share - 1.0 / 3.0).abs() < 0.01, "{mean:?}");
    }
}

#[test]
fn sparse_rows_with_a_tiny_alpha_keep_their_mass() {
    // p(x) ~ Dir(1, 1, 1, 1) has no zero rows; with alpha = 0.001 a row whose inner draws
    // all underflowed used to turn the whole table into one cell.
    for seed in 0..200u64 {
        let g = ibex::gen::sparse(4, 6, 2, seed, 0.001).unwrap();
        for row in &g.rows {
            let values: Vec<f64> = row.iter().map(|v| v.parse().unwrap()).collect();
            let nonzero = values.iter().filter(|&&v| v > 0.0).count();
            assert!((1..=2).contains(&nonzero), "seed {seed}: {:?}", g.rows);
            assert!(
                values.iter().sum::<f64>() > 1e-12,
                "seed {seed}: {:?}",
                g.rows
            );
        }
    }
}

#[test]
fn encoder_out_never_overwrites_an_input() {
    let dir = tempfile::tempdir().unwrap();
    let joint = dir.path().join("joint.csv");
    std::fs::copy(example("ib_3x3.csv"), &joint).unwrap();
    let before = std::fs::read(&joint).unwrap();
    let link = dir.path().join("link.csv");
    std::fs::hard_link(&joint, &link).unwrap();
    for out in [&joint, &link] {
        let (code, _, stderr) = run_binary(&[
            "solve",
            path(&joint),
            "--beta",
            "5",
            "--encoder-out",
            path(out),
        ]);
        assert_eq!(code, 2, "{stderr}");
        assert!(
            stderr.contains("--encoder-out") && stderr.contains("the same file as the input FILE"),
            "{stderr}"
        );
        assert_eq!(std::fs::read(&joint).unwrap(), before);
    }
    // The --init file is an input too.
    let enc = dir.path().join("enc.csv");
    run_cli(&[
        "solve",
        path(&joint),
        "--beta",
        "5",
        "--encoder-out",
        path(&enc),
    ])
    .unwrap();
    let written = std::fs::read(&enc).unwrap();
    let (code, _, stderr) = run_binary(&[
        "solve",
        path(&joint),
        "--beta",
        "5",
        "--init",
        path(&enc),
        "--encoder-out",
        path(&enc),
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("--encoder-out") && stderr.contains("--init"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&enc).unwrap(), written);
}

#[test]
fn anneal_out_never_overwrites_its_input() {
    let dir = tempfile::tempdir().unwrap();
    let joint = dir.path().join("joint.csv");
    std::fs::copy(example("ib_3x3.csv"), &joint).unwrap();
    let out = dir.path().join("out");
    let text = run_cli(&[
        "anneal",
        path(&joint),
        "--betas",
        "1,3",
        "--encoders",
        "--out",
        path(&out),
    ])
    .unwrap();
    let written: Vec<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("wrote "))
        .map(|p| {
            Path::new(p)
                .file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert!(written.len() >= 9, "{written:?}");
    // Every file the sweep writes is refused as its own input, before the sweep runs.
    for (name, method, sub) in written
        .iter()
        .map(|n| (n.as_str(), "ib", ""))
        .chain([("path.csv", "both", "dualib")])
    {
        let target = dir.path().join("target");
        std::fs::create_dir_all(target.join(sub)).unwrap();
        let input = target.join(sub).join(name);
        std::fs::copy(&joint, &input).unwrap();
        let (code, _, stderr) = run_binary(&[
            "anneal",
            path(&input),
            "--betas",
            "1,3",
            "--encoders",
            "--method",
            method,
            "--out",
            path(&target),
        ]);
        assert_eq!(code, 2, "{name}: {stderr}");
        assert!(
            stderr.contains("--out") && stderr.contains("the same file as the input FILE"),
            "{name}: {stderr}"
        );
        assert_eq!(
            std::fs::read(&input).unwrap(),
            std::fs::read(&joint).unwrap()
        );
        std::fs::remove_dir_all(&target).unwrap();
    }
}

#[test]
fn negative_numbers_reach_the_validators() {
    let f = example("ib_3x3.csv");
    let f = path(&f);
    for (args, flag, expected) in [
        (
            vec!["solve", f, "--beta", "5", "--max-iter", "-1"],
            "--max-iter",
            "non-negative integer",
        ),
        (
            vec!["solve", f, "--beta", "5", "--restarts", "-2"],
            "--restarts",
            "non-negative integer",
        ),
        (
            vec!["solve", f, "--beta", "5", "--seed", "-1"],
            "--seed",
            "non-negative integer",
        ),
        (
            vec!["bifurcations", f, "--beta-min", "-1"],
            "--beta-min",
            ">= 0",
        ),
        (
            vec!["bifurcations", f, "--betas", "-1,2"],
            "--betas",
            ">= 0",
        ),
        (
            vec!["bifurcations", f, "--locate-tol", "-1e-10"],
            "--locate-tol",
            "between 0 and 1",
        ),
        (
            vec!["bifurcations", f, "--points", "-3"],
            "--points",
            "non-negative integer",
        ),
        (
            vec![
                "gen",
                "dirichlet",
                "--nx",
                "2",
                "--ny",
                "2",
                "--seed",
                "1",
                "--alpha",
                "-1",
            ],
            "--alpha",
            "[0.001, 1e6]",
        ),
        (
            vec!["gen", "gaussian", "--n", "4", "--rho", "-1.5"],
            "--rho",
            "(-1, 1)",
        ),
        (
            vec![
                "gen", "gaussian", "--n", "4", "--rho", "0.5", "--range", "-3",
            ],
            "--range",
            "a positive number",
        ),
        (
            vec!["gen", "dsbs", "--crossover", "-0.1"],
            "--crossover",
            "between 0 and 1",
        ),
        (
            vec!["ntk", "--depth", "-1"],
            "--depth",
            "non-negative integer",
        ),
        (
            vec!["ntk", "--steps", "-5"],
            "--steps",
            "non-negative integer",
        ),
    ] {
        let (code, _, stderr) = run_binary(&args);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(
            stderr.contains(flag) && stderr.contains(expected),
            "{args:?}: {stderr}"
        );
        assert!(
            !stderr.contains("unexpected argument") && !stderr.contains("-- -"),
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn bad_out_paths_name_the_flag_and_what_was_expected() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("afile");
    std::fs::write(&file, "not a directory\n").unwrap();
    let f = example("ib_3x3.csv");
    let f = path(&f);
    let below_file = file.join("sub");
    let (file_s, below_s, dir_s) = (path(&file), path(&below_file), path(dir.path()));
    for (args, flag, shown, found, expected) in [
        (
            vec!["anneal", f, "--betas", "1,2", "--out", file_s],
            "--out",
            file_s,
            "exists and is not a directory",
            "expected a directory (it is created if missing)",
        ),
        (
            vec!["anneal", f, "--betas", "1,2", "--out", below_s],
            "--out",
            below_s,
            "cannot be created",
            "expected a directory that exists or can be created",
        ),
        (
            vec!["demo", "--out", file_s],
            "--out",
            file_s,
            "exists and is not a directory",
            "expected a directory",
        ),
        (
            vec!["gen", "dsbs", "--crossover", "0.1", "--out", dir_s],
            "--out",
            dir_s,
            "a directory",
            "expected a file path",
        ),
        (
            vec!["solve", f, "--beta", "5", "--encoder-out", below_s],
            "--encoder-out",
            below_s,
            "does not exist or is not a directory",
            "expected a file in an existing directory",
        ),
    ] {
        let (code, _, stderr) = run_binary(&args);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        for needle in [flag, shown, found, expected] {
            assert!(
                stderr.contains(needle),
                "{args:?}: {needle} not in {stderr}"
            );
        }
    }
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "not a directory\n");
}

#[test]
fn a_bad_out_directory_fails_before_the_sweep() {
    // This sweep runs for minutes; the bad --out must be refused at once.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("afile");
    std::fs::write(&file, "").unwrap();
    let f = example("sparse_32x16_nnz3_seed1.csv");
    let start = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ibex"))
        .args([
            "anneal",
            path(&f),
            "--points",
            "2000",
            "--max-points",
            "4000",
            "--direction",
            "all",
            "--max-located",
            "all",
            "--out",
            path(&file),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > Duration::from_secs(15) {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("the sweep ran with an --out that is a file");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(2));
}

#[test]
fn locate_tol_must_lie_strictly_between_0_and_1() {
    let f = example("ib_3x3.csv");
    let f = path(&f);
    for bad in ["0", "1", "10", "nan", "-1e-10", "inf"] {
        let (code, _, stderr) =
            run_binary(&["bifurcations", f, "--betas", "1,3", "--locate-tol", bad]);
        assert_eq!(code, 2, "{bad}: {stderr}");
        assert!(
            stderr.contains("--locate-tol") && stderr.contains("between 0 and 1"),
            "{bad}: {stderr}"
        );
    }
    let (code, _, stderr) =
        run_binary(&["bifurcations", f, "--betas", "1,3", "--locate-tol", "1e-8"]);
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn clusters_allowed_is_the_limit_and_the_encoder_has_that_many_columns() {
    // On this joint the IB's escape from support traps re-solves from an encoder with one
    // column per distinct cluster of an earlier solution, so the winner has 30 columns,
    // which `clusters_allowed` used to report (and `--encoder-out` wrote, a file `--init`
    // then refused). The limit is --clusters, by default |X| = 32 (the shape `info`
    // reports).
    let f = example("sparse_32x16_nnz3_seed1.csv");
    let f = path(&f);
    let info: Value =
        serde_json::from_str(&run_cli(&["info", f, "--format", "json"]).unwrap()).unwrap();
    let nx = info["shape"][0].as_u64().unwrap();
    assert_eq!(nx, 32);
    let dir = tempfile::tempdir().unwrap();
    let enc = dir.path().join("enc.csv");
    let first: Value = serde_json::from_str(
        &run_cli(&["solve", f, "--beta", "5", "--encoder-out", path(&enc)]).unwrap(),
    )
    .unwrap();
    assert_eq!(first["clusters_allowed"].as_u64(), Some(nx));
    assert!(first["clusters"].as_u64().unwrap() < nx);
    let encoder = table(&std::fs::read_to_string(&enc).unwrap());
    assert_eq!(encoder.len() as u64, nx);
    for row in &encoder {
        assert_eq!(row.len() as u64, nx);
        assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }
    // The file is a valid start at the default --clusters, and the solution it gives is
    // no worse.
    let again: Value =
        serde_json::from_str(&run_cli(&["solve", f, "--beta", "5", "--init", path(&enc)]).unwrap())
            .unwrap();
    assert!(
        again["objective"].as_f64().unwrap() <= first["objective"].as_f64().unwrap() + 1e-9,
        "{} vs {}",
        again["objective"],
        first["objective"]
    );
    let limited: Value =
        serde_json::from_str(&run_cli(&["solve", f, "--beta", "5", "--clusters", "7"]).unwrap())
            .unwrap();
    assert_eq!(limited["clusters_allowed"], 7);
}

#[test]
fn counts_above_2_64_say_what_was_expected() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("big.csv");
    std::fs::write(&file, "18446744073709551615,18446744073709551615\n").unwrap();
    let (code, _, stderr) = run_binary(&["info", path(&file), "--counts"]);
    assert_eq!(code, 2, "{stderr}");
    for needle in [
        path(&file),
        "add up to 36893488147419103230",
        "expected a total of at most 2^64 - 1",
        "--normalize",
    ] {
        assert!(stderr.contains(needle), "{needle} not in {stderr}");
    }
    // The remedy the message suggests works: the same numbers read as weights.
    let v: Value = serde_json::from_str(
        &run_cli(&["info", path(&file), "--normalize", "--format", "json"]).unwrap(),
    )
    .unwrap();
    assert!((v["h_y_bits"].as_f64().unwrap() - 1.0).abs() < 1e-15);
}
