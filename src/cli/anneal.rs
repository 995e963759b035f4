//! `ibex anneal` and `ibex bifurcations`: the whole curve across beta, its branches and its
//! bifurcations.

use std::io::{IsTerminal, Write};
use std::path::{Path as FsPath, PathBuf};
use std::sync::OnceLock;

use serde_json::json;

use super::solve::{parse_beta, parse_stop, AccelerationArg};
use super::{emit, JointInput};
use crate::anneal::{anneal, AnnealOptions, Direction};
use crate::bifurcation::Supremum;
use crate::bottleneck::Bottleneck;
use crate::branches::{envelope, hysteresis_ranges, metastable_stretches};
use crate::dual_ib::DualIb;
use crate::error::{Error, Result};
use crate::ib::Ib;
use crate::info::{h_x, mutual_information, nats_to_bits};
use crate::io::JointFile;
use crate::locate::{locate_sharing_onset, Bifurcation};
use crate::scalar::Real;
use crate::solve::MergeTol;
use crate::with_precision;

mod figures;
mod tables;
mod thresholds;

use figures::plots;
use tables::{
    beta_text, bifurcation_table, bifurcations_csv, critical_points_compared,
    encoders_and_decoders_csv, path_csv,
};
use thresholds::{eta_dual_check, onset_check, trivial_thresholds};

/// Methods with a bifurcation theory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AnnealMethod {
    /// Information bottleneck.
    Ib,
    /// Dual information bottleneck.
    Dualib,
    /// Both, into DIR/ib and DIR/dualib, with their first transitions compared.
    Both,
}

/// Sweep directions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DirectionArg {
    /// Forward annealing from the trivial solution (clusters duplicated at each beta).
    Up,
    /// Reverse annealing from T = X.
    Down,
    /// Both: hysteresis shows up as a difference.
    Both,
    /// Each beta on its own (identity, single-cluster, maximal-correlation split and
    /// --restarts random starts), in parallel.
    Independent,
    /// Up, down and independent: every branch the three find goes into the envelope.
    All,
}

/// Arguments shared by `ibex anneal` and `ibex bifurcations`.
#[derive(Debug, Clone, clap::Args)]
pub struct SweepArgs {
    /// The joint distribution.
    #[command(flatten)]
    pub input: JointInput,
    /// Which method.
    #[arg(long, value_enum, default_value_t = AnnealMethod::Ib)]
    pub method: AnnealMethod,
    /// Smallest beta of the grid.
    #[arg(long, default_value = "0.5", allow_hyphen_values = true)]
    pub beta_min: String,
    /// Largest beta of the grid.
    #[arg(long, default_value = "100", allow_hyphen_values = true)]
    pub beta_max: String,
    /// Log-spaced grid points between --beta-min and --beta-max (refined adaptively).
    #[arg(long, default_value_t = 40, value_parser = super::parse_unsigned::<usize>, allow_negative_numbers = true)]
    pub points: usize,
    /// An explicit comma-separated list of betas instead of a range (no refinement).
    #[arg(long, conflicts_with_all = ["beta_min", "beta_max", "points"], allow_hyphen_values = true)]
    pub betas: Option<String>,
    /// Sweep direction.
    #[arg(long, value_enum, default_value_t = DirectionArg::Both)]
    pub direction: DirectionArg,
    /// Convergence tolerance of each solve (default epsilon^(2/3)).
    #[arg(long, allow_hyphen_values = true)]
    pub tol: Option<String>,
    /// Iteration cap of each solve (evaluations of the iteration map).
    #[arg(long, default_value_t = 100_000, value_parser = super::parse_unsigned::<usize>, allow_negative_numbers = true)]
    pub max_iter: usize,
    /// How each solve's iteration is driven (auto: SQUAREM going up, Anderson going down and in independent mode).
    #[arg(long, value_enum, default_value_t = AccelerationArg::Auto)]
    pub acceleration: AccelerationArg,
    /// Relative tolerance of located bifurcations, in (0, 1) (default 1e-10 in f64, 1e-30
    /// above).
    #[arg(long, allow_hyphen_values = true)]
    pub locate_tol: Option<String>,
    /// Largest number of points per path (adaptive refinement stops there).
    #[arg(long, default_value_t = 400, value_parser = super::parse_unsigned::<usize>, allow_negative_numbers = true)]
    pub max_points: usize,
    /// Locate at most this many changes of the cluster count per path, lowest beta first;
    /// the rest are listed as `unlocated` (bracket only). `all` locates every one (a joint
    /// with a large X can have hundreds, each costing tens of solves near a critical point).
    #[arg(long, default_value = "64", allow_hyphen_values = true)]
    pub max_located: String,
    /// Random starts per beta in the independent mode, besides the identity and the
    /// single cluster (seeds --seed, --seed + 1, ...; the best objective is kept).
    #[arg(long, default_value_t = crate::anneal::DEFAULT_RESTARTS, value_parser = super::parse_unsigned::<usize>, allow_negative_numbers = true)]
    pub restarts: usize,
    /// Seed of the first random start of the independent mode.
    #[arg(long, default_value_t = 0, value_parser = super::parse_unsigned::<u64>, allow_negative_numbers = true)]
    pub seed: u64,
}

/// `--max-located`: a count of changes, or `all` (`None`).
fn parse_max_located(text: &str) -> Result<Option<usize>> {
    if text.eq_ignore_ascii_case("all") {
        return Ok(None);
    }
    text.parse::<usize>().map(Some).map_err(|_| {
        Error::parameter(
            "--max-located",
            format!("`{text}`"),
            "a count of changes (0, 1, 2, ...) or `all`",
        )
    })
}

/// Arguments of `ibex anneal`.
#[derive(Debug, Clone, clap::Args)]
pub struct AnnealArgs {
    /// The sweep.
    #[command(flatten)]
    pub sweep: SweepArgs,
    /// Output directory (created if missing; checked to be writable before the sweep).
    #[arg(long)]
    pub out: PathBuf,
    /// Also write every path point's encoder q(t|x) (encoders.csv) and decoder q(y|t)
    /// (decoders.csv), one column t per distinct cluster, heaviest first.
    #[arg(long)]
    pub encoders: bool,
}

/// Runs `ibex anneal`.
pub fn run_anneal(args: &AnnealArgs, out: &mut dyn Write) -> Result<()> {
    let text = with_precision!(
        args.sweep.input.precision,
        sweep_into(&args.sweep, Some(&args.out), args.encoders)
    )?;
    emit(out, &text)
}

/// Runs `ibex bifurcations`.
pub fn run_bifurcations(args: &SweepArgs, out: &mut dyn Write) -> Result<()> {
    let text = with_precision!(args.input.precision, sweep_into(args, None, false))?;
    emit(out, &text)
}

fn grid<T: Real>(args: &SweepArgs) -> Result<Vec<T>> {
    if let Some(list) = &args.betas {
        let betas = list
            .split(',')
            .map(|b| parse_beta::<T>("--betas", b))
            .collect::<Result<Vec<T>>>()?;
        if betas.iter().any(|b| b.is_zero()) {
            return Err(Error::parameter("--betas", list.clone(), "positive betas"));
        }
        return Ok(betas);
    }
    let lo = parse_beta::<T>("--beta-min", &args.beta_min)?;
    let hi = parse_beta::<T>("--beta-max", &args.beta_max)?;
    if lo.is_zero() || hi <= lo {
        return Err(Error::parameter(
            "--beta-min/--beta-max",
            format!("{} .. {}", args.beta_min, args.beta_max),
            "0 < beta-min < beta-max",
        ));
    }
    if args.points < 2 || args.points > 100_000 {
        return Err(Error::parameter(
            "--points",
            args.points.to_string(),
            "between 2 and 100000",
        ));
    }
    let (llo, lhi) = (lo.ln(), hi.ln());
    let n = T::from_u64(args.points as u64 - 1);
    Ok((0..args.points)
        .map(|i| {
            (llo.clone() + (lhi.clone() - llo.clone()) * T::from_u64(i as u64) / n.clone()).exp()
        })
        .collect())
}

/// Runs a sweep at precision `T`; writes files into `out_dir` when given. Returns the text
/// to print.
/// Sweeps, locates and reports; with `out_dir`, also writes the files there (and the
/// encoders and decoders of every point if `encoders`).
pub(crate) fn sweep_into<T: Real>(
    args: &SweepArgs,
    out_dir: Option<&FsPath>,
    encoders: bool,
) -> Result<String> {
    let file = args.input.read::<T>()?;
    let stop = parse_stop::<T>(args.tol.as_deref(), args.max_iter, args.acceleration)?;
    let locate_tol = match &args.locate_tol {
        Some(t) => {
            let expected = "a relative tolerance between 0 and 1 (exclusive), such as 1e-10";
            let v = super::solve::parse_real::<T>("--locate-tol", t, expected)?;
            if v <= T::zero() || v >= T::one() {
                return Err(Error::parameter("--locate-tol", format!("`{t}`"), expected));
            }
            v
        }
        None => T::from_f64(if T::PRECISION_BITS > 53 { 1e-30 } else { 1e-10 }),
    };
    let options = AnnealOptions {
        merge: MergeTol::for_stop(&stop),
        stop,
        adaptive: args.betas.is_none(),
        max_points: args.max_points.max(2),
        max_located: parse_max_located(&args.max_located)?,
        restarts: args.restarts,
        seed: args.seed,
    };
    let betas = grid::<T>(args)?;
    if let Some(dir) = out_dir {
        prepare_output(args, dir, encoders)?;
    }
    // Each method's onset constant is computed once, for its paths and its thresholds.
    let (onset_ib, onset_dual) = (OnceLock::new(), OnceLock::new());
    let ib = |dir: Option<&FsPath>| {
        run_method(
            &Ib,
            args,
            &file,
            &betas,
            &options,
            &locate_tol,
            dir.map(|d| (d, encoders)),
            &onset_ib,
        )
    };
    let dual = |dir: Option<&FsPath>| {
        run_method(
            &DualIb,
            args,
            &file,
            &betas,
            &options,
            &locate_tol,
            dir.map(|d| (d, encoders)),
            &onset_dual,
        )
    };
    match args.method {
        AnnealMethod::Ib => ib(out_dir).map(|r| r.0),
        AnnealMethod::Dualib => dual(out_dir).map(|r| r.0),
        AnnealMethod::Both => {
            let (ib_dir, dual_dir) = (
                out_dir.map(|d| d.join("ib")),
                out_dir.map(|d| d.join("dualib")),
            );
            let mut text = String::from("== IB\n");
            let (ib_text, ib_rows) = ib(ib_dir.as_deref())?;
            text.push_str(&ib_text);
            text.push_str("== dual IB\n");
            let (dual_text, dual_rows) = dual(dual_dir.as_deref())?;
            text.push_str(&dual_text);
            let (t_ib, t_dual) = (
                trivial_thresholds("ib", &file.joint, &onset_ib),
                trivial_thresholds("dualib", &file.joint, &onset_dual),
            );
            text.push_str("== first transitions compared (trivial solution)\n");
            // Matched by kind: a method may have no linear threshold.
            let before = text.len();
            for (kind, a, _) in &t_ib {
                let b = t_dual.iter().find(|(k, _, _)| k == kind);
                let (Some(a), Some(b)) = (a, b.and_then(|(_, b, _)| b.as_ref())) else {
                    continue;
                };
                text.push_str(&format!(
                    "  {kind:<10} IB {}  dual IB {}  (dual / IB = {:.6})\n",
                    beta_text(a.to_f64(), 15),
                    beta_text(b.to_f64(), 15),
                    (b.clone() / a.clone()).to_f64()
                ));
            }
            if text.len() == before {
                text.push_str("  (no threshold defined for both)\n");
            }
            text.push_str(&critical_points_compared(&ib_rows, &dual_rows));
            Ok(text)
        }
    }
}

/// The files [`sweep_into`] writes into each method's output directory: with `encoders`,
/// also the encoders and decoders (`tests/cli_input.rs` checks the list against what a
/// sweep writes).
fn output_files(encoders: bool) -> Vec<&'static str> {
    let mut names = vec![
        "path.csv",
        "bifurcations.csv",
        "summary.json",
        "information_plane.svg",
        "information_plane.png",
        "bifurcation_diagram.svg",
        "bifurcation_diagram.png",
    ];
    if encoders {
        names.extend(["encoders.csv", "decoders.csv"]);
    }
    names
}

/// Before the sweep: refuses an output file that is the input joint, and makes sure the
/// output directories (`dir`, or `dir/ib` and `dir/dualib` for both methods) exist and
/// take files, so that a bad `--out` does not fail only after all the work.
fn prepare_output(args: &SweepArgs, dir: &FsPath, encoders: bool) -> Result<()> {
    let dirs = match args.method {
        AnnealMethod::Both => vec![dir.join("ib"), dir.join("dualib")],
        _ => vec![dir.to_path_buf()],
    };
    for d in &dirs {
        for name in output_files(encoders) {
            super::refuse_overwriting_inputs(
                "--out",
                &d.join(name),
                &[("FILE", args.input.file.as_path())],
            )?;
        }
    }
    super::prepare_output_dir("--out", dir)?;
    for d in &dirs {
        super::prepare_output_dir("--out", d)?;
    }
    Ok(())
}

/// The dual IB on a joint whose p(y|x) has zeros: what goes wrong and the remedy.
const DUAL_ZEROS_WARNING: &str = "warning: p(y|x) has zeros. The dual IB's \
geometric decoder gives y no mass in any cluster holding an x with p(y|x) = 0, and the \
iteration never moves such an x out of a cluster entirely (zeros are absorbing), so paths \
whose clusters mix inputs (up from the trivial solution, random starts) can keep outcomes \
killed and stay far above the down path; --label-noise EPS (e.g. 1e-6) mixes uniform \
label noise into p(y|x) and removes the zeros (spec ib pitfall 9)";

/// The line that says the joint is not the file's: `--label-noise` was mixed in.
fn label_noise_line<T: Real>(epsilon: &T) -> String {
    format!(
        "label noise: p(y|x) <- (1 - {0}) p(y|x) + {0}/|Y| (--label-noise)\n",
        epsilon.to_f64()
    )
}

#[allow(clippy::too_many_arguments)]
fn run_method<T: Real, B: Bottleneck<T>>(
    method: &B,
    args: &SweepArgs,
    file: &JointFile<T>,
    betas: &[T],
    options: &AnnealOptions<T>,
    locate_tol: &T,
    out_dir: Option<(&FsPath, bool)>,
    onset: &OnceLock<Option<Supremum<T>>>,
) -> Result<(String, Vec<Bifurcation<T>>)> {
    let (p, source) = (&file.joint, file.source.as_str());
    let directions = match args.direction {
        DirectionArg::Up => vec![Direction::Up],
        DirectionArg::Down => vec![Direction::Down],
        DirectionArg::Both => vec![Direction::Up, Direction::Down],
        DirectionArg::Independent => vec![Direction::Independent],
        DirectionArg::All => vec![Direction::Up, Direction::Down, Direction::Independent],
    };
    let tty = std::io::stderr().is_terminal();
    let mut paths = Vec::new();
    for d in &directions {
        let bar = progress_bar(
            tty,
            betas.len(),
            format!("{} {} sweep", method.name(), d.as_str()),
            "points",
        );
        let progress = |n: usize| {
            // An adaptive grid grows past the given betas.
            bar.set_length(n.max(betas.len()) as u64);
            bar.set_position(n as u64);
        };
        paths.push(anneal(method, p, betas, *d, options, &progress));
        bar.finish();
    }
    let mut bifurcations: Vec<Bifurcation<T>> = Vec::new();
    for path in &paths {
        let bar = progress_bar(
            tty,
            0,
            format!(
                "{} locating on the {} path",
                method.name(),
                path.direction.as_str()
            ),
            "changes",
        );
        let progress = |done: usize, total: usize| {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        };
        bifurcations.extend(locate_sharing_onset(
            method, p, path, options, locate_tol, onset, &progress,
        ));
        bar.finish();
    }
    let thresholds = trivial_thresholds(method.name(), p, onset);
    let hysteresis = hysteresis_ranges(&paths, &bifurcations);
    let metastable = metastable_stretches(&paths);
    let on_envelope = envelope(&paths);
    let check = onset_check(method.name(), onset, &paths);
    let dual_check = eta_dual_check(method.name(), p, onset);
    let mut table = bifurcation_table(
        method.name(),
        &bifurcations,
        &thresholds,
        check
            .as_ref()
            .or(dual_check.as_ref())
            .map(|(text, _)| text.as_str()),
        &hysteresis,
        &metastable,
    );
    if let Some(epsilon) = &file.label_noise {
        table.insert_str(0, &label_noise_line(epsilon));
    }
    if method.name() == "dualib" && p.has_zero_conditionals() {
        table.push_str(&format!("{DUAL_ZEROS_WARNING}\n"));
    }
    let Some((dir, encoders)) = out_dir else {
        return Ok((table, bifurcations));
    };
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir.display().to_string(), e))?;
    let write = |name: &str, text: String| -> Result<PathBuf> {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|e| Error::io(path.display().to_string(), e))?;
        Ok(path)
    };
    let mut written = Vec::new();
    written.push(write("path.csv", path_csv(&paths, &on_envelope))?);
    written.push(write(
        "bifurcations.csv",
        bifurcations_csv(method.name(), &bifurcations),
    )?);
    let summary = json!({
        "file": source,
        "label_noise": file.label_noise.as_ref().map(|e| e.to_f64()),
        "label_noise_decimal": file.label_noise.as_ref().map(|e| e.to_decimal()),
        "method": method.name(),
        "precision_bits": T::PRECISION_BITS,
        "convention": "L = I(X;T) - beta I(T;Y), natural logarithms; informations in bits in path.csv",
        "i_xy_bits": nats_to_bits(&mutual_information(p)).to_f64(),
        "h_x_bits": nats_to_bits(&h_x(p)).to_f64(),
        "thresholds": thresholds.iter().map(|(k, v, how)| json!({"kind": k, "beta": v.as_ref().map(|v| v.to_f64()), "beta_decimal": v.as_ref().map(|v| v.to_decimal()), "how": how})).collect::<Vec<_>>(),
        "hysteresis": hysteresis.iter().map(|(a, b)| json!([a.to_f64(), b.to_f64()])).collect::<Vec<_>>(),
        "metastable": metastable.iter().map(|m| json!({
            "direction": m.direction.as_str(),
            "beta_first": m.beta_first.to_f64(),
            "beta_last": m.beta_last.to_f64(),
            "points": m.points,
            "max_excess_nats": m.max_excess.to_f64(),
            "beta_max_excess": m.beta_max_excess.to_f64(),
            "best_direction": m.best_direction.as_str(),
        })).collect::<Vec<_>>(),
        "s_star_check": check.map(|(_, v)| v),
        "eta_dual_check": dual_check.map(|(_, v)| v),
        "paths": paths.iter().map(|p| {
            let mut entry = json!({"direction": p.direction.as_str(), "points": p.points.len()});
            if p.direction == Direction::Independent {
                entry["random_starts"] = json!({"per_beta": options.restarts, "first_seed": options.seed});
            }
            entry
        }).collect::<Vec<_>>(),
    });
    written.push(write(
        "summary.json",
        format!("{}\n", serde_json::to_string_pretty(&summary)?),
    )?);
    if encoders {
        let (enc, dec) = encoders_and_decoders_csv(p, &paths);
        written.push(write("encoders.csv", enc)?);
        written.push(write("decoders.csv", dec)?);
    }
    written.extend(plots(dir, method.name(), p, &paths, &bifurcations)?);
    let mut text = table;
    for w in written {
        text.push_str(&format!("wrote {}\n", w.display()));
    }
    Ok((text, bifurcations))
}

/// A progress bar on standard error (`prefix [#####-----] done/total unit, elapsed`)
/// when it is a terminal, a hidden one otherwise, so that redirected output stays clean.
fn progress_bar(tty: bool, total: usize, prefix: String, unit: &str) -> indicatif::ProgressBar {
    if !tty {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(total as u64).with_prefix(prefix);
    let template =
        format!("[ibex anneal] {{prefix}} [{{bar:30}}] {{pos}}/{{len}} {unit}, {{elapsed}}");
    if let Ok(style) = indicatif::ProgressStyle::with_template(&template) {
        bar.set_style(style.progress_chars("#>-"));
    }
    bar
}
