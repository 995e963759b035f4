//! `ibex ntk`: closed-form information of infinite ensembles of infinitely wide networks.
//!
//! Reads training and test points, runs [`crate::ntk::study::run_study`] at the chosen
//! precision and writes, into `--out DIR`:
//!
//! | file | content |
//! |---|---|
//! | `kernel_nngp.csv`, `kernel_ntk.csv` | (N+M) × (N+M) kernels, training points then test points, no header |
//! | `predictions.csv` | `t,regime,split,index,mean,var`: the ensemble's marginal at every point ([`Study::predictions_csv`]; a study with k > 1 output channels has `mean_0` … `mean_{k−1}` in place of `mean`, and one `var`, which the channels share; the command reads one target column, so k = 1 here) |
//! | `info.csv` | one row per (regime, t, σ_n²): the information quantities, nats (columns in [`INFO_COLUMNS`]) |
//! | `summary.json` | the parameters, sizes, effective regularisers, warnings and the column meanings |
//! | `information.svg/png`, `losses.svg/png` | the bounds and the losses against t |

use std::fmt::Write as _;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde_json::json;

use super::emit;
use crate::error::{Error, Result};
use crate::ntk::data::read_points;
use crate::ntk::ensemble::{Regime, Time, Training};
use crate::ntk::kernel::{Activation, FcNetwork};
use crate::ntk::study::{run_study, InfoRow, PointSet, Study, StudyConfig};
use crate::ntk::{decimal, finite_cell};
use crate::plot::{line_plot, Series};
use crate::scalar::Real;
use crate::with_precision;

/// Arguments of `ibex ntk`.
#[derive(Debug, Clone, clap::Args)]
pub struct NtkArgs {
    /// Training points: CSV, one point per row, the inputs then the target in the last column; optional header.
    #[arg(long)]
    pub train: PathBuf,
    /// Test points, in the same layout as --train.
    #[arg(long)]
    pub test: PathBuf,
    /// Nonlinearity after each hidden layer: relu, erf or identity.
    #[arg(long, default_value = "relu")]
    pub arch: String,
    /// Number of hidden layers L (each Dense then the nonlinearity), before the read-out Dense.
    #[arg(long, default_value_t = 1, value_parser = super::parse_unsigned::<usize>, allow_negative_numbers = true)]
    pub depth: usize,
    /// Weight standard deviation sigma_w of every Dense layer (NTK parameterisation).
    #[arg(long, default_value = "1", allow_hyphen_values = true)]
    pub w_std: String,
    /// Bias standard deviation sigma_b of every Dense layer (0: no bias).
    #[arg(long, default_value = "0", allow_hyphen_values = true)]
    pub b_std: String,
    /// Training times, comma-separated, `inf` allowed (e.g. 0,1,10,inf).
    #[arg(long, allow_hyphen_values = true)]
    pub times: Option<String>,
    /// Smallest time of a logarithmic grid (with --t-max and --steps; t = 0 and inf are added).
    #[arg(long, allow_hyphen_values = true)]
    pub t_min: Option<String>,
    /// Largest time of the logarithmic grid.
    #[arg(long, allow_hyphen_values = true)]
    pub t_max: Option<String>,
    /// Number of times in the logarithmic grid (2 to 10000).
    #[arg(long, value_parser = super::parse_unsigned::<usize>, allow_negative_numbers = true)]
    pub steps: Option<usize>,
    /// Output-noise variance(s) sigma_n^2 >= 0 added to the ensemble variance in I(X;Z), I(Z;Y), comma-separated.
    #[arg(long, default_value = "0.01", allow_hyphen_values = true)]
    pub noise_var: String,
    /// Diagonal regulariser epsilon of the training kernel (relative: epsilon * tr(G)/N, unless --diag-reg-absolute).
    #[arg(long, default_value = "0", allow_hyphen_values = true)]
    pub diag_reg: String,
    /// Add --diag-reg to the diagonal as is instead of scaling it by tr(G)/N.
    #[arg(long)]
    pub diag_reg_absolute: bool,
    /// Learning rate eta: the exponent is exp(-eta t G / (N k)).
    #[arg(long, default_value = "1", allow_hyphen_values = true)]
    pub learning_rate: String,
    /// The points X is uniform over in I(X;Z) and I(Z;Y): all, train or test.
    #[arg(long, default_value = "all")]
    pub points: String,
    /// Regimes: ntk (all layers trained), nngp (read-out only) or both.
    #[arg(long, default_value = "both")]
    pub regime: String,
    /// Exact I(X;Z), I(Z;Y) by quadrature only up to this many points (empty above).
    #[arg(long, default_value_t = 4000)]
    pub exact_max_points: usize,
    /// Working precision: f64, or MPFR bits 128, 256, 512, 1024.
    #[arg(long, default_value = "f64", value_parser = super::parse_precision)]
    pub precision: u32,
    /// Output directory (created if missing).
    #[arg(long)]
    pub out: PathBuf,
}

/// The columns of `info.csv`, with their meaning (all informations in nats).
pub const INFO_COLUMNS: [(&str, &str); 22] = [
    ("t", "training time (inf: end of gradient flow); exponent exp(-eta t G/(N k))"),
    ("noise_var", "output-noise variance sigma_n^2 added to the ensemble variance"),
    ("i_xz_lower", "Kolchinsky-Tracey Bhattacharyya lower bound on I(X;Z), nats"),
    ("i_xz_upper", "Kolchinsky-Tracey KL upper bound on I(X;Z), nats"),
    ("i_xz_exact", "I(X;Z) by Gauss-Legendre quadrature (1-D outputs), nats"),
    ("kl_posterior_prior", "KL(N(mu_t, Sigma_t) || N(0, K)) jointly over the test points, nats"),
    ("gibbs_loglik", "Gibbs log-likelihood of the test targets, sum_i E ln N(y_i; z_i, 1), nats"),
    ("bayes_loglik", "Bayes log-likelihood of the test targets, ln N(y; mu_t, Sigma_t + I), nats"),
    ("trace_ntk", "tr Theta(X_train, X_train)"),
    ("regime", "ntk (all layers trained, G = Theta) or nngp (read-out only, G = K)"),
    ("i_zy_lower", "lower bound on I(Z;Y), Y = the target value of the point, nats"),
    ("i_zy_upper", "upper bound on I(Z;Y), nats"),
    ("i_zy_exact", "I(Z;Y) by quadrature (1-D outputs), nats"),
    ("kl_posterior_prior_train", "KL to the prior jointly over the training points, nats"),
    ("gibbs_loglik_train", "Gibbs log-likelihood of the training targets, nats"),
    ("bayes_loglik_train", "Bayes log-likelihood of the training targets, nats"),
    ("loss_train", "expected MSE loss of one ensemble member, (1/(2n)) [sum (y - mu)^2 + k tr Sigma], training points"),
    ("loss_test", "the same on the test points"),
    ("param_distance_sq", "E|theta_t - theta_0|^2 of the linearised network (spec Q6', derived)"),
    ("param_distance_code", "parameter distance as coded by Shwartz-Ziv & Alemi (spec Q6, unconfirmed)"),
    ("i_theta_d_code", "I(theta;D) lower bound as coded by Shwartz-Ziv & Alemi (spec Q7, unconfirmed), nats"),
    ("ln_m", "ln of the number of points X is uniform over (the largest I(X;Z)), nats"),
];

/// Runs `ibex ntk`.
pub fn run(args: &NtkArgs, out: &mut dyn Write) -> Result<()> {
    let text = with_precision!(args.precision, ntk_run(args))?;
    emit(out, &text)
}

fn parse_real<T: Real>(name: &str, s: &str) -> Result<T> {
    let v = T::parse(s.trim())
        .map_err(|_| Error::parameter(name, format!("`{}`", s.trim()), "a decimal number"))?;
    if !v.is_finite() {
        return Err(Error::parameter(
            name,
            format!("`{}`", s.trim()),
            "a finite number",
        ));
    }
    Ok(v)
}

fn parse_list<T: Real>(name: &str, s: &str) -> Result<Vec<T>> {
    s.split(',')
        .map(|p| {
            let v = parse_real::<T>(name, p)?;
            if v < T::zero() {
                return Err(Error::parameter(
                    name,
                    format!("`{}`", p.trim()),
                    "a number >= 0",
                ));
            }
            Ok(v)
        })
        .collect()
}

/// The most times one run takes (`--steps`, or the length of `--times`): each costs
/// the ensemble's mean and covariance at every point and the information quadrature,
/// about 20 ms for the 42 bundled example points, so 10000 times is minutes; without a
/// cap `--steps 100000000` ran for days and needed hundreds of GB.
pub const MAX_TIMES: usize = 10_000;

/// The time grid from `--times`, or from `--t-min/--t-max/--steps` (logarithmic, with 0
/// and ∞ added; inner points rounded to 15 significant digits), or the default 0, 25
/// times from 1e-2 to 1e4, ∞.
fn time_grid<T: Real>(args: &NtkArgs) -> Result<Vec<Time<T>>> {
    let range_given = args.t_min.is_some() || args.t_max.is_some() || args.steps.is_some();
    if let Some(list) = &args.times {
        if range_given {
            return Err(Error::parameter(
                "--times",
                "both --times and --t-min/--t-max/--steps",
                "one of the two ways to give times",
            ));
        }
        let times = list
            .split(',')
            .map(|p| {
                Time::parse(p).map_err(|e| Error::parameter("--times", e, "numbers >= 0 or inf"))
            })
            .collect::<Result<Vec<_>>>()?;
        if times.is_empty() {
            return Err(Error::parameter(
                "--times",
                "an empty list",
                "at least one time",
            ));
        }
        if times.len() > MAX_TIMES {
            return Err(Error::parameter(
                "--times",
                format!("{} times", times.len()),
                format!("at most {MAX_TIMES} times (split them into several runs)"),
            ));
        }
        return Ok(times);
    }
    let (t_min, t_max, steps) = if range_given {
        let t_min = args.t_min.as_deref().ok_or_else(|| {
            Error::parameter("--t-min", "nothing", "--t-min with --t-max and --steps")
        })?;
        let t_max = args.t_max.as_deref().ok_or_else(|| {
            Error::parameter("--t-max", "nothing", "--t-max with --t-min and --steps")
        })?;
        let steps = args.steps.ok_or_else(|| {
            Error::parameter("--steps", "nothing", "--steps with --t-min and --t-max")
        })?;
        (
            parse_real::<T>("--t-min", t_min)?,
            parse_real::<T>("--t-max", t_max)?,
            steps,
        )
    } else {
        (T::parse("1e-2").expect("constant"), T::from_f64(1e4), 25)
    };
    if t_min.partial_cmp(&T::zero()) != Some(std::cmp::Ordering::Greater)
        || t_max.partial_cmp(&t_min) != Some(std::cmp::Ordering::Greater)
    {
        return Err(Error::parameter(
            "--t-min/--t-max",
            format!("{} and {}", t_min.to_decimal(), t_max.to_decimal()),
            "0 < t-min < t-max (the grid is logarithmic; t = 0 and inf are added)",
        ));
    }
    if !(2..=MAX_TIMES).contains(&steps) {
        return Err(Error::parameter(
            "--steps",
            steps.to_string(),
            format!("between 2 and {MAX_TIMES} (every time costs the ensemble at every point and the information quadrature; split a finer grid into several runs)"),
        ));
    }
    let (a, b) = (t_min.ln(), t_max.ln());
    let mut times = vec![Time::At(T::zero())];
    for i in 0..steps {
        let t = if i == 0 {
            t_min.clone()
        } else if i == steps - 1 {
            t_max.clone()
        } else {
            // Rounded to 15 significant digits, so that decades print as 100, not
            // 99.99999999999996; the grid's times are then those decimals.
            let f = T::from_u64(i as u64) / T::from_u64((steps - 1) as u64);
            let t = (a.clone() + (b.clone() - &a) * f).exp();
            T::parse(&format!("{:.14e}", t.to_f64())).unwrap_or(t)
        };
        times.push(Time::At(t));
    }
    times.push(Time::Infinity);
    Ok(times)
}

fn regimes(s: &str) -> Result<Vec<Regime>> {
    match s.trim().to_ascii_lowercase().as_str() {
        "both" => Ok(vec![Regime::Ntk, Regime::Nngp]),
        "ntk" => Ok(vec![Regime::Ntk]),
        "nngp" => Ok(vec![Regime::Nngp]),
        other => Err(Error::parameter(
            "--regime",
            format!("`{other}`"),
            "ntk, nngp or both",
        )),
    }
}

fn point_set(s: &str) -> Result<PointSet> {
    match s.trim().to_ascii_lowercase().as_str() {
        "all" => Ok(PointSet::All),
        "train" => Ok(PointSet::Train),
        "test" => Ok(PointSet::Test),
        other => Err(Error::parameter(
            "--points",
            format!("`{other}`"),
            "all, train or test",
        )),
    }
}

fn opt_cell<T: Real>(x: &Option<T>) -> String {
    x.as_ref().map(finite_cell).unwrap_or_default()
}

/// Writes `text` to `dir/name`.
fn write_file(dir: &Path, name: &str, text: &str) -> Result<PathBuf> {
    let path = dir.join(name);
    let file =
        std::fs::File::create(&path).map_err(|e| Error::io(path.display().to_string(), e))?;
    let mut w = BufWriter::new(file);
    w.write_all(text.as_bytes())
        .and_then(|_| w.flush())
        .map_err(|e| Error::io(path.display().to_string(), e))?;
    Ok(path)
}

fn matrix_csv<T: Real>(m: &nalgebra::DMatrix<T>) -> String {
    let mut s = String::with_capacity(m.nrows() * m.ncols() * 20);
    for i in 0..m.nrows() {
        for j in 0..m.ncols() {
            if j > 0 {
                s.push(',');
            }
            s.push_str(&decimal(&m[(i, j)]));
        }
        s.push('\n');
    }
    s
}

fn info_line<T: Real>(r: &InfoRow<T>) -> String {
    let cells = [
        r.t.to_text(),
        decimal(&r.noise_var),
        opt_cell(&r.i_xz_lower),
        opt_cell(&r.i_xz_upper),
        opt_cell(&r.i_xz_exact),
        opt_cell(&r.kl_posterior_prior),
        opt_cell(&r.gibbs_loglik),
        opt_cell(&r.bayes_loglik),
        opt_cell(&r.trace_ntk),
        r.regime.name().to_string(),
        opt_cell(&r.i_zy_lower),
        opt_cell(&r.i_zy_upper),
        opt_cell(&r.i_zy_exact),
        opt_cell(&r.kl_posterior_prior_train),
        opt_cell(&r.gibbs_loglik_train),
        opt_cell(&r.bayes_loglik_train),
        opt_cell(&r.loss_train),
        opt_cell(&r.loss_test),
        opt_cell(&r.weights.param_distance_sq),
        opt_cell(&r.weights.param_distance_code),
        opt_cell(&r.weights.i_theta_d_code),
        decimal(&r.ln_m),
    ];
    cells.join(",")
}

fn ntk_run<T: Real>(args: &NtkArgs) -> Result<String> {
    let activation = Activation::parse(&args.arch)?;
    let w_std = parse_real::<T>("--w-std", &args.w_std)?;
    let b_std = parse_real::<T>("--b-std", &args.b_std)?;
    let net = FcNetwork::uniform(activation, args.depth, w_std, b_std)?;
    let times = time_grid::<T>(args)?;
    let noise_vars = parse_list::<T>("--noise-var", &args.noise_var)?;
    if noise_vars.is_empty() {
        return Err(Error::parameter(
            "--noise-var",
            "an empty list",
            "at least one variance >= 0",
        ));
    }
    let training = Training {
        learning_rate: parse_real::<T>("--learning-rate", &args.learning_rate)?,
        diag_reg: parse_real::<T>("--diag-reg", &args.diag_reg)?,
        diag_reg_absolute: args.diag_reg_absolute,
    };
    if training.learning_rate.partial_cmp(&T::zero()) != Some(std::cmp::Ordering::Greater) {
        return Err(Error::parameter(
            "--learning-rate",
            args.learning_rate.trim(),
            "a number > 0",
        ));
    }
    if training.diag_reg < T::zero() {
        return Err(Error::parameter(
            "--diag-reg",
            args.diag_reg.trim(),
            "a number >= 0",
        ));
    }
    let config = StudyConfig {
        times,
        noise_vars,
        points: point_set(&args.points)?,
        regimes: regimes(&args.regime)?,
        training,
        exact_max_points: args.exact_max_points,
    };
    let train = read_points::<T>(&args.train, 2)?;
    let test = read_points::<T>(&args.test, 1)?;
    if train.x.ncols() != test.x.ncols() {
        return Err(Error::Input {
            file: test.source.clone(),
            line: test.lines[0],
            column: 1,
            found: format!("{} input columns", test.x.ncols()),
            expected: format!(
                "{} input columns (then the target), as in {}",
                train.x.ncols(),
                train.source
            ),
        });
    }
    let study = run_study(&net, &train.x, &train.y, &test.x, &test.y, &config)?;
    let dir = &args.out;
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir.display().to_string(), e))?;
    let mut files = Vec::new();
    files.push(write_file(
        dir,
        "kernel_nngp.csv",
        &matrix_csv(&study.kernels.nngp),
    )?);
    files.push(write_file(
        dir,
        "kernel_ntk.csv",
        &matrix_csv(&study.kernels.ntk),
    )?);
    files.push(write_file(
        dir,
        "predictions.csv",
        &study.predictions_csv(),
    )?);
    let mut info = INFO_COLUMNS.map(|c| c.0).join(",");
    info.push('\n');
    for r in &study.info {
        info.push_str(&info_line(r));
        info.push('\n');
    }
    files.push(write_file(dir, "info.csv", &info)?);
    files.extend(plots(dir, &study, &config)?);
    let summary = json!({
        "command": "ibex ntk",
        "train": train.source,
        "test": test.source,
        "n_train": train.x.nrows(),
        "n_test": test.x.nrows(),
        "d_in": train.x.ncols(),
        "n_outputs": study.n_outputs,
        "arch": activation.name(),
        "depth": args.depth,
        "w_std": decimal(&net.layers[0].w_std),
        "b_std": decimal(&net.layers[0].b_std),
        "parameterization": "ntk (neural-tangents stax.Dense default)",
        "learning_rate": decimal(&config.training.learning_rate),
        "diag_reg": decimal(&config.training.diag_reg),
        "diag_reg_absolute": config.training.diag_reg_absolute,
        "diag_reg_effective": study.diag_reg_effective.iter().map(|(r, v)| (r.name().to_string(), json!(decimal(v)))).collect::<serde_json::Map<_, _>>(),
        "times": config.times.iter().map(Time::to_text).collect::<Vec<_>>(),
        "noise_vars": config.noise_vars.iter().map(decimal).collect::<Vec<_>>(),
        "points": config.points.name(),
        "precision_bits": T::PRECISION_BITS,
        "trace_ntk": finite_cell(&study.kernels.trace_ntk_train()),
        "units": "nats for every information, KL and log-likelihood",
        "info_columns": INFO_COLUMNS.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
        "predictions_columns": study.prediction_columns().into_iter().map(|(k, v)| (k, json!(v))).collect::<serde_json::Map<_, _>>(),
        "warnings": study.warnings,
    });
    files.push(write_file(
        dir,
        "summary.json",
        &format!("{}\n", serde_json::to_string_pretty(&summary)?),
    )?);
    let mut report = format!(
        "ibex ntk: {} training and {} test points, d_in {}, {} depth {}, {} times, {} bits\n",
        train.x.nrows(),
        test.x.nrows(),
        train.x.ncols(),
        activation.name(),
        args.depth,
        config.times.len(),
        T::PRECISION_BITS
    );
    for f in &files {
        let _ = writeln!(report, "wrote {}", f.display());
    }
    for w in &study.warnings {
        let _ = writeln!(report, "warning: {w}");
    }
    Ok(report)
}

/// `information` (I(X;Z) bounds and exact value, I(Z;Y) when labels repeat) and `losses`
/// (expected MSE and negative log-likelihoods per test point) against t, for the first
/// noise variance. t = 0 and t = ∞ cannot sit on a log axis and are left out.
fn plots<T: Real>(dir: &Path, study: &Study<T>, config: &StudyConfig<T>) -> Result<Vec<PathBuf>> {
    let noise = &config.noise_vars[0];
    let positive: Vec<f64> = config
        .times
        .iter()
        .map(Time::to_f64)
        .filter(|t| t.is_finite() && *t > 0.0)
        .collect();
    let log_x = positive.len() >= 2;
    let m_test = study.kernels.n_test().max(1) as f64;
    let mut info_series = Vec::new();
    let mut loss_series = Vec::new();
    for &regime in &config.regimes {
        let rows: Vec<&InfoRow<T>> = study
            .info
            .iter()
            .filter(|r| r.regime == regime && r.noise_var == *noise)
            .collect();
        let pts = |f: &dyn Fn(&InfoRow<T>) -> Option<f64>| -> Vec<(f64, f64)> {
            rows.iter()
                .map(|r| (r.t.to_f64(), f(r).unwrap_or(f64::NAN)))
                .collect()
        };
        let n = regime.name();
        let of = |x: &Option<T>| x.as_ref().map(Real::to_f64);
        info_series.push(Series::new(
            format!("I(X;Z) lower [{n}]"),
            pts(&|r| of(&r.i_xz_lower)),
        ));
        info_series.push(Series {
            name: format!("I(X;Z) upper [{n}]"),
            points: pts(&|r| of(&r.i_xz_upper)),
            dashed: true,
            markers_only: false,
        });
        if rows.iter().any(|r| r.i_xz_exact.is_some()) {
            info_series.push(Series::new(
                format!("I(X;Z) exact [{n}]"),
                pts(&|r| of(&r.i_xz_exact)),
            ));
        }
        let zy_differs = rows.iter().any(|r| {
            let a = of(&r.i_zy_upper).unwrap_or(f64::NAN);
            let b = of(&r.i_xz_upper).unwrap_or(f64::NAN);
            (a - b).abs() > 1e-12 * b.abs().max(1.0)
        });
        if zy_differs {
            info_series.push(Series::new(
                format!("I(Z;Y) lower [{n}]"),
                pts(&|r| of(&r.i_zy_lower)),
            ));
            info_series.push(Series {
                name: format!("I(Z;Y) upper [{n}]"),
                points: pts(&|r| of(&r.i_zy_upper)),
                dashed: true,
                markers_only: false,
            });
        }
        loss_series.push(Series::new(
            format!("E loss train [{n}]"),
            pts(&|r| of(&r.loss_train)),
        ));
        loss_series.push(Series::new(
            format!("E loss test [{n}]"),
            pts(&|r| of(&r.loss_test)),
        ));
        loss_series.push(Series {
            name: format!("-Gibbs loglik / M [{n}]"),
            points: pts(&|r| of(&r.gibbs_loglik).map(|v| -v / m_test)),
            dashed: true,
            markers_only: false,
        });
        loss_series.push(Series {
            name: format!("-Bayes loglik / M [{n}]"),
            points: pts(&|r| of(&r.bayes_loglik).map(|v| -v / m_test)),
            dashed: true,
            markers_only: false,
        });
    }
    let note = if log_x {
        " (t = 0 and inf not shown)"
    } else {
        " (t = inf not shown)"
    };
    let mut out = Vec::new();
    out.extend(line_plot(
        &dir.join("information"),
        &format!(
            "Information of the infinite ensemble, noise var {}{note}",
            decimal(noise)
        ),
        "training time t",
        "nats",
        log_x,
        &info_series,
    )?);
    out.extend(line_plot(
        &dir.join("losses"),
        &format!(
            "Losses of the infinite ensemble (test: M = {}){note}",
            m_test
        ),
        "training time t",
        "MSE loss / negative log-likelihood (nats per point)",
        log_x,
        &loss_series,
    )?);
    Ok(out)
}
