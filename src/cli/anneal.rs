//! `ibex anneal` and `ibex bifurcations`: the whole curve across beta, its branches and its
//! bifurcations.

use std::io::{IsTerminal, Write};
use std::path::{Path as FsPath, PathBuf};
use std::sync::OnceLock;

use nalgebra::DMatrix;
use serde_json::json;

use super::solve::{parse_beta, parse_stop, AccelerationArg};
use super::{emit, JointInput};
use crate::anneal::{anneal, AnnealOptions, Direction, Path};
use crate::bifurcation::{
    dual_nucleation_test_within, dual_split_eigenvalues, ib_split_eigenvalues, is_rounding_level,
    largest_indices, Supremum,
};
use crate::bottleneck::Bottleneck;
use crate::branches::{envelope, hysteresis_ranges, metastable_stretches, Metastable};
use crate::dual_ib::DualIb;
use crate::error::{Error, Result};
use crate::ib::Ib;
use crate::info::{h_x, mutual_information, nats_to_bits};
use crate::io::JointFile;
use crate::locate::{
    locate_sharing_onset, sdpi_lower_bound, trivial_onset_constant, Bifurcation, Kind,
};
use crate::plot::{line_plot, panel_plot, Panel, Series};
use crate::scalar::Real;
use crate::solve::{Init, MergeTol};
use crate::with_precision;

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
    #[arg(long, default_value = "0.5")]
    pub beta_min: String,
    /// Largest beta of the grid.
    #[arg(long, default_value = "100")]
    pub beta_max: String,
    /// Log-spaced grid points between --beta-min and --beta-max (refined adaptively).
    #[arg(long, default_value_t = 40)]
    pub points: usize,
    /// An explicit comma-separated list of betas instead of a range (no refinement).
    #[arg(long, conflicts_with_all = ["beta_min", "beta_max", "points"])]
    pub betas: Option<String>,
    /// Sweep direction.
    #[arg(long, value_enum, default_value_t = DirectionArg::Both)]
    pub direction: DirectionArg,
    /// Convergence tolerance of each solve (default epsilon^(2/3)).
    #[arg(long)]
    pub tol: Option<String>,
    /// Iteration cap of each solve (evaluations of the iteration map).
    #[arg(long, default_value_t = 100_000)]
    pub max_iter: usize,
    /// How each solve's iteration is driven (auto: SQUAREM going up, Anderson going down and in independent mode).
    #[arg(long, value_enum, default_value_t = AccelerationArg::Auto)]
    pub acceleration: AccelerationArg,
    /// Relative tolerance of located bifurcations (default 1e-10 in f64, 1e-30 above).
    #[arg(long)]
    pub locate_tol: Option<String>,
    /// Largest number of points per path (adaptive refinement stops there).
    #[arg(long, default_value_t = 400)]
    pub max_points: usize,
    /// Locate at most this many changes of the cluster count per path, lowest beta first;
    /// the rest are listed as `unlocated` (bracket only). `all` locates every one (a joint
    /// with a large X can have hundreds, each costing tens of solves near a critical point).
    #[arg(long, default_value = "64")]
    pub max_located: String,
    /// Random starts per beta in the independent mode, besides the identity and the
    /// single cluster (seeds --seed, --seed + 1, ...; the best objective is kept).
    #[arg(long, default_value_t = crate::anneal::DEFAULT_RESTARTS)]
    pub restarts: usize,
    /// Seed of the first random start of the independent mode.
    #[arg(long, default_value_t = 0)]
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
            text.to_string(),
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
    /// Output directory (created if missing).
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
            .map(|b| parse_beta::<T>(b))
            .collect::<Result<Vec<T>>>()?;
        if betas.iter().any(|b| b.is_zero()) {
            return Err(Error::parameter("--betas", list.clone(), "positive betas"));
        }
        return Ok(betas);
    }
    let lo = parse_beta::<T>(&args.beta_min)?;
    let hi = parse_beta::<T>(&args.beta_max)?;
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
            super::solve::parse_real::<T>("--locate-tol", t, "a positive relative tolerance")?
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

/// The located changes of the IB and the dual IB side by side: each change of the cluster
/// count (direction, before -> after) that both methods located, with its kind and beta in
/// each and their ratio.
fn critical_points_compared<T: Real>(ib: &[Bifurcation<T>], dual: &[Bifurcation<T>]) -> String {
    let mut s = String::from("== critical points along the paths compared\n");
    let located = |b: &&Bifurcation<T>| b.kind != Kind::Unlocated;
    let mut any = false;
    for a in ib.iter().filter(located) {
        let key = (a.direction, a.clusters_before, a.clusters_after);
        if let Some(b) = dual
            .iter()
            .filter(located)
            .find(|b| (b.direction, b.clusters_before, b.clusters_after) == key)
        {
            any = true;
            s.push_str(&format!(
                "  {:<11} {:>3}->{:<3} IB {:<10} {}  dual IB {:<10} {}  (dual / IB = {:.6})\n",
                a.direction.as_str(),
                a.clusters_before,
                a.clusters_after,
                a.kind.as_str(),
                beta_text(a.beta_located.to_f64(), 15),
                b.kind.as_str(),
                beta_text(b.beta_located.to_f64(), 15),
                (b.beta_located.clone() / a.beta_located.clone()).to_f64()
            ));
        }
    }
    if !any {
        s.push_str("  (no change of the cluster count located by both)\n");
    }
    s
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

/// The IB's onset constant s* (from the supremum search) checked against the paths:
/// every solution's I(T;Y)/I(X;T) is a lower bound on s* ([`sdpi_lower_bound`]), so a
/// path point above s* (beyond a relative slack of epsilon^(1/4), for rounding) shows that
/// the search missed the global supremum and that the onset 1/s* is too high. A line for
/// the table and the `s_star_check` object of summary.json; `None` for the dual IB (no
/// such characterisation of η_dual is known to us) or without s* or a usable point.
fn onset_check<T: Real>(
    method: &str,
    onset: &OnceLock<Option<Supremum<T>>>,
    paths: &[Path<T>],
) -> Option<(String, serde_json::Value)> {
    if method != "ib" {
        return None;
    }
    let s_star = onset.get()?.as_ref()?.value.clone();
    let (ratio, beta, direction) = sdpi_lower_bound(paths)?;
    let slack = T::epsilon().sqrt().sqrt();
    let consistent = ratio <= s_star.clone() * (T::one() + slack);
    let text = if consistent {
        format!(
            "  check      s* = {:.12} >= {:.12}, the largest I(T;Y)/I(X;T) on the paths \
             ({} path, beta = {}): consistent\n",
            s_star.to_f64(),
            ratio.to_f64(),
            direction.as_str(),
            beta_text(beta.to_f64(), 6)
        )
    } else {
        format!(
            "warning: the {} path at beta = {} has I(T;Y)/I(X;T) = {:.12}, above s* = {:.12} \
             from the supremum search, which has missed the global supremum: the nucleation \
             onset from the trivial solution is at most {}, below the 1/s* reported\n",
            direction.as_str(),
            beta_text(beta.to_f64(), 6),
            ratio.to_f64(),
            s_star.to_f64(),
            beta_text((T::one() / ratio.clone()).to_f64(), 12)
        )
    };
    let value = json!({
        "s_star": s_star.to_f64(),
        "largest_ratio_on_paths": ratio.to_f64(),
        "beta": beta.to_f64(),
        "direction": direction.as_str(),
        "consistent": consistent,
    });
    Some((text, value))
}

/// Iterations per start of the dual nucleation test in [`eta_dual_check`].
const ETA_DUAL_CHECK_MAX_ITER: usize = 5_000;

/// A threshold of the trivial solution: kind, β (`None`: undefined), how it was found.
type Threshold<T> = (&'static str, Option<T>, String);

/// The dual IB's onset constant η_dual (from the supremum search) checked by the dual
/// nucleation test, an independent maximisation of the growth factor c(q) of a new cluster
/// over decoders q ([`crate::bifurcation::dual_nucleation_test`]): at β = (1 − 1e-6)/η_dual no new cluster may
/// grow from the trivial solution (max_q c(q) ≤ 1 + 1e-12). If one does, the search missed
/// the supremum and the onset is lower than reported. A line for the table and the
/// `eta_dual_check` object of summary.json; `None` for the IB (see [`onset_check`]) or
/// without a positive η_dual.
fn eta_dual_check<T: Real>(
    method: &str,
    p: &crate::dist::Joint<T>,
    onset: &OnceLock<Option<Supremum<T>>>,
) -> Option<(String, serde_json::Value)> {
    if method != "dualib" {
        return None;
    }
    let eta = onset.get()?.as_ref()?.value.clone();
    if eta.is_nan() || eta <= T::zero() {
        return None;
    }
    let beta = (T::one() - T::from_f64(1e-6)) / eta.clone();
    let trivial = Init::<T>::SingleCluster.encoder(p.nx(), 1).ok()?;
    // At most 5,000 iterations per start: with η_dual at its local limit λ_dual this β is
    // 1e-6 below a continuous transition, where starts near the trivial decoder creep
    // towards it at a rate of 1 − 1e-6 per iteration (with 100,000 per start, `ibex
    // bifurcations` on the 32x32 discretised Gaussian with label noise 1e-6 took 67 s, most
    // of it here; 8 s with the cap). A missed first-order supremum shows as a start that
    // climbs above 1 well within the cap.
    let growth = dual_nucleation_test_within(p, &beta, &trivial, ETA_DUAL_CHECK_MAX_ITER)
        .value()
        .clone()
        - T::one();
    let consistent = growth <= T::from_f64(1e-12);
    let text = if consistent {
        format!(
            "  check      no new cluster grows at beta = {} = (1 - 1e-6)/eta_dual (max c(q) - 1 = {:.1e}, dual nucleation test): consistent\n",
            beta_text(beta.to_f64(), 12),
            growth.to_f64()
        )
    } else {
        format!(
            "warning: a new cluster already grows from the trivial solution at beta = {} \
             (max c(q) - 1 = {:.3e}, dual nucleation test), below 1/eta_dual = {}: the \
             eta_dual search missed the supremum, and the onset is lower than reported\n",
            beta_text(beta.to_f64(), 12),
            growth.to_f64(),
            beta_text((T::one() / eta).to_f64(), 12)
        )
    };
    let value = json!({
        "beta": beta.to_f64(),
        "max_growth": growth.to_f64(),
        "consistent": consistent,
    });
    Some((text, value))
}

/// The trivial solution's thresholds: linear (1/ρ_m² or 1/λ_dual) and nucleation
/// (1/s* or 1/η_dual, from `onset`, computed there at most once). For the dual IB on a
/// joint where no y has p(y|x) > 0 for every x the single cluster has no decoder, so there
/// is no trivial solution: one nucleation row without a value says so.
fn trivial_thresholds<T: Real>(
    method: &str,
    p: &crate::dist::Joint<T>,
    onset: &OnceLock<Option<Supremum<T>>>,
) -> Vec<Threshold<T>> {
    let trivial = Init::<T>::SingleCluster
        .encoder(p.nx(), 1)
        .expect("single cluster");
    if method == "dualib" && !DualIb.decoder(p, &trivial, &[T::one()]).live()[0] {
        return vec![(
            "nucleation",
            None,
            "1/eta_dual: no trivial solution, since no y has p(y|x) > 0 for every x, the \
             single cluster has no dual-IB decoder"
                .to_string(),
        )];
    }
    let lin = if method == "dualib" {
        dual_split_eigenvalues(p, &trivial)[0].clone()
    } else {
        ib_split_eigenvalues(p, &trivial)[0].clone()
    };
    let mut out = Vec::new();
    let nuc = onset
        .get_or_init(|| trivial_onset_constant(method, p))
        .as_ref();
    if let Some(l) = lin.filter(|l| !is_rounding_level(p, l)) {
        let name = if method == "dualib" {
            "1/lambda_dual"
        } else {
            "1/rho_m^2"
        };
        out.push(("linear", Some(T::one() / l), name.to_string()));
    }
    if let Some(nuc) = nuc.filter(|n| !n.value.is_zero()) {
        let name = if method == "dualib" {
            "1/eta_dual"
        } else {
            "1/s* (eta_KL)"
        };
        out.push((
            "nucleation",
            Some(T::one() / nuc.value.clone()),
            format!("{name}, {:?}", nuc.method),
        ));
    }
    out
}

/// A beta for the printed tables: `digits` decimals, in exponent form outside [1e-4, 1e6)
/// (so that beta = 1e300 prints as 1.000000e300, not as 301 digits).
fn beta_text(v: f64, digits: usize) -> String {
    if v != 0.0 && v.is_finite() && !(1e-4..1e6).contains(&v.abs()) {
        format!("{v:.digits$e}")
    } else {
        format!("{v:.digits$}")
    }
}

fn opt(v: &Option<impl Real>) -> String {
    v.as_ref().map_or(String::new(), |v| v.to_decimal())
}

fn bifurcation_table<T: Real>(
    method: &str,
    bifurcations: &[Bifurcation<T>],
    thresholds: &[Threshold<T>],
    onset_check: Option<&str>,
    hysteresis: &[(T, T)],
    metastable: &[Metastable<T>],
) -> String {
    let mut s = format!("trivial-solution thresholds ({method}):\n");
    if thresholds.is_empty() {
        s.push_str(
            "  none: the splitting eigenvalue and the onset constant are 0, so the trivial \
             solution is optimal at every beta (as when X and Y are independent)\n",
        );
    }
    for (kind, v, how) in thresholds {
        let value = v
            .as_ref()
            .map_or("undefined".to_string(), |v| v.to_decimal());
        s.push_str(&format!("  {kind:<10} beta = {value}  ({how})\n"));
    }
    s.push_str(onset_check.unwrap_or(""));
    s.push_str(&format!(
        "bifurcations along the paths:\n  {:<11} {:<9} {:>24} {:>24} {:>9} {:>7} {:>11}\n",
        "direction", "kind", "beta_predicted", "beta_located", "tolerance", "clusters", "iter_near"
    ));
    for b in bifurcations {
        s.push_str(&format!(
            "  {:<11} {:<9} {:>24} {:>24} {:>9.1e} {:>7} {:>11}\n",
            b.direction.as_str(),
            b.kind.as_str(),
            b.beta_predicted
                .as_ref()
                .map_or("-".to_string(), |v| beta_text(v.to_f64(), 17)),
            beta_text(b.beta_located.to_f64(), 17),
            b.tolerance.to_f64(),
            format!("{}->{}", b.clusters_before, b.clusters_after),
            b.iterations_near
        ));
    }
    let unconverged: Vec<String> = bifurcations
        .iter()
        .filter(|b| b.unconverged_solves > 0)
        .map(|b| {
            format!(
                "{} {}->{} ({})",
                b.direction.as_str(),
                b.clusters_before,
                b.clusters_after,
                b.unconverged_solves
            )
        })
        .collect();
    if !unconverged.is_empty() {
        s.push_str(&format!(
            "warning: located partly on branch solves that stopped at --max-iter (how many: \
             `unconverged_solves` in bifurcations.csv): {}\n",
            unconverged.join(", ")
        ));
    }
    let unlocated: Vec<&Bifurcation<T>> = bifurcations
        .iter()
        .filter(|b| b.kind == Kind::Unlocated)
        .collect();
    if !unlocated.is_empty() {
        let changes: usize = unlocated
            .iter()
            .map(|b| b.clusters_before.abs_diff(b.clusters_after))
            .sum();
        s.push_str(&format!(
            "not located: {changes} change(s) of the cluster count in {} bracket(s) beyond \
             --max-located (kind `unlocated`: beta_located = the bracket's geometric midpoint, \
             tolerance = its relative width); --max-located all locates every one\n",
            unlocated.len()
        ));
    }
    for (a, b) in hysteresis {
        s.push_str(&format!(
            "hysteresis: up and down sweeps differ for beta in [{}, {}] (metastable branch)\n",
            beta_text(a.to_f64(), 6),
            beta_text(b.to_f64(), 6)
        ));
    }
    // One line per path: the stretches themselves are in summary.json.
    for direction in [Direction::Up, Direction::Down, Direction::Independent] {
        let mine: Vec<&Metastable<T>> = metastable
            .iter()
            .filter(|m| m.direction == direction)
            .collect();
        let Some(worst) = mine.iter().max_by(|a, b| {
            a.max_excess
                .partial_cmp(&b.max_excess)
                .unwrap_or(std::cmp::Ordering::Equal)
        }) else {
            continue;
        };
        let points: usize = mine.iter().map(|m| m.points).sum();
        s.push_str(&format!(
            "metastable: the {} path lies above the best point found at {points} grid point(s) \
             in {} stretch(es) within beta [{}, {}], by up to {:.3e} nats (at beta {}, \
             below it: {}); the stretches are in summary.json\n",
            direction.as_str(),
            mine.len(),
            beta_text(mine[0].beta_first.to_f64(), 6),
            beta_text(mine[mine.len() - 1].beta_last.to_f64(), 6),
            worst.max_excess.to_f64(),
            beta_text(worst.beta_max_excess.to_f64(), 6),
            worst.best_direction.as_str()
        ));
    }
    s
}

fn bifurcations_csv<T: Real>(method: &str, bifurcations: &[Bifurcation<T>]) -> String {
    let mut s = String::from("method,kind,beta_predicted,beta_located,tolerance,clusters_before,clusters_after,iterations_near,direction,bracket_lo,bracket_hi,unconverged_solves\n");
    for b in bifurcations {
        s.push_str(&format!(
            "{method},{},{},{},{},{},{},{},{},{},{},{}\n",
            b.kind.as_str(),
            opt(&b.beta_predicted),
            b.beta_located.to_decimal(),
            b.tolerance.to_decimal(),
            b.clusters_before,
            b.clusters_after,
            b.iterations_near,
            b.direction.as_str(),
            b.bracket.0.to_decimal(),
            b.bracket.1.to_decimal(),
            b.unconverged_solves
        ));
    }
    s
}

/// `encoders.csv` (direction, beta, x, t, q_t_given_x) and `decoders.csv` (direction,
/// beta, t, q_t, y, q_y_given_t) of every path point, long format: t numbers the distinct
/// clusters heaviest first (the order of `clusters` in path.csv), each the sum of its
/// member columns, q(t|x) = Σ_{s in t} q(s|x); its decoder is the members' decoders
/// averaged by mass, q(y|t) = Σ_{s in t} q(s) q(y|s) / q(t). x and y are the file's labels.
fn encoders_and_decoders_csv<T: Real>(
    p: &crate::dist::Joint<T>,
    paths: &[Path<T>],
) -> (String, String) {
    let mut enc = String::from("direction,beta,x,t,q_t_given_x\n");
    let mut dec = String::from("direction,beta,t,q_t,y,q_y_given_t\n");
    for path in paths {
        let direction = path.direction.as_str();
        for s in &path.points {
            let beta = s.beta.to_decimal();
            let merged = crate::solve::merged_encoder(s, s.clusters.len().max(1));
            for (x, label) in p.x_labels().iter().enumerate() {
                for t in 0..merged.ncols() {
                    enc.push_str(&format!(
                        "{direction},{beta},{label},{t},{}\n",
                        merged[(x, t)].to_decimal()
                    ));
                }
            }
            let decoders = s.distinct_decoders();
            for (t, (mass, _)) in s.clusters.iter().enumerate() {
                for (y, label) in p.y_labels().iter().enumerate() {
                    dec.push_str(&format!(
                        "{direction},{beta},{t},{},{label},{}\n",
                        mass.to_decimal(),
                        decoders[(t, y)].to_decimal()
                    ));
                }
            }
        }
    }
    (enc, dec)
}

fn path_csv<T: Real>(paths: &[Path<T>], on_envelope: &[(usize, usize)]) -> String {
    let mut s = String::from("beta,i_xt_bits,i_ty_bits,h_t_bits,objective,clusters,iterations,termination,residual,direction,on_envelope\n");
    for (i, path) in paths.iter().enumerate() {
        for (j, p) in path.points.iter().enumerate() {
            let masses: Vec<T> = p.clusters.iter().map(|(m, _)| m.clone()).collect();
            s.push_str(&format!(
                "{},{},{},{},{},{},{},{},{},{},{}\n",
                p.beta.to_decimal(),
                nats_to_bits(&p.i_xt).to_decimal(),
                nats_to_bits(&p.i_ty).to_decimal(),
                nats_to_bits(&crate::info::entropy(&masses)).to_decimal(),
                p.objective.to_decimal(),
                p.clusters.len(),
                p.iterations,
                p.termination.as_str(),
                p.residual.to_decimal(),
                path.direction.as_str(),
                on_envelope.contains(&(i, j))
            ));
        }
    }
    s
}

/// Most panels the bifurcation diagram draws.
const DIAGRAM_PANELS: usize = 12;

/// The outcomes y whose decoder coordinate the bifurcation diagram draws, in label order:
/// the first alone for binary Y (the other is 1 minus it), every y up to
/// [`DIAGRAM_PANELS`], else the most probable ones under p(y) (ties to the first).
fn diagram_outcomes<T: Real>(p_y: &[T]) -> Vec<usize> {
    if p_y.len() == 2 {
        return vec![0];
    }
    largest_indices(p_y, DIAGRAM_PANELS)
}

fn plots<T: Real>(
    dir: &FsPath,
    method: &str,
    p: &crate::dist::Joint<T>,
    paths: &[Path<T>],
    bifurcations: &[Bifurcation<T>],
) -> Result<Vec<PathBuf>> {
    let i_xy = nats_to_bits(&mutual_information(p)).to_f64();
    let hx = nats_to_bits(&h_x(p)).to_f64();
    let mut series: Vec<Series> = paths
        .iter()
        .map(|path| {
            Series::new(
                format!("{method} {} sweep", path.direction.as_str()),
                path.points
                    .iter()
                    .map(|s| {
                        (
                            nats_to_bits(&s.i_xt).to_f64(),
                            nats_to_bits(&s.i_ty).to_f64(),
                        )
                    })
                    .collect(),
            )
        })
        .collect();
    let mut bound = Series::new(
        format!("I(X;Y) = {i_xy:.4} bits"),
        vec![(0.0, i_xy), (hx, i_xy)],
    );
    bound.dashed = true;
    let mut hx_line = Series::new(format!("H(X) = {hx:.4} bits"), vec![(hx, 0.0), (hx, i_xy)]);
    hx_line.dashed = true;
    series.push(bound);
    series.push(hx_line);
    // Located changes only: an unlocated bracket's midpoint is not a transition.
    let marks: Vec<(f64, f64)> = bifurcations
        .iter()
        .filter(|b| b.kind != Kind::Unlocated)
        .filter_map(|b| {
            let path = paths.iter().find(|pa| pa.direction == b.direction)?;
            let s = path.points.iter().find(|s| s.beta >= b.beta_located)?;
            Some((
                nats_to_bits(&s.i_xt).to_f64(),
                nats_to_bits(&s.i_ty).to_f64(),
            ))
        })
        .collect();
    if !marks.is_empty() {
        let mut marks = Series::new("bifurcations (first point after)", marks);
        marks.markers_only = true;
        series.push(marks);
    }
    let mut written = line_plot(
        &dir.join("information_plane"),
        &format!("Information plane, {method} (bits)"),
        "I(X;T) [bits]",
        "I(T;Y) [bits]",
        false,
        &series,
    )?
    .to_vec();
    // Bifurcation diagram: every distinct cluster's decoder against beta, one panel per y
    // (for binary Y the first alone: q(y1|t) = 1 - q(y0|t)), one series per sweep.
    let shown = diagram_outcomes(p.p_y());
    let decoders: Vec<Vec<DMatrix<T>>> = paths
        .iter()
        .map(|path| path.points.iter().map(|s| s.distinct_decoders()).collect())
        .collect();
    let panels: Vec<Panel> = shown
        .iter()
        .map(|&y| Panel {
            title: format!("q(y = {}|t)", p.y_labels()[y]),
            series: paths
                .iter()
                .zip(&decoders)
                .map(|(path, decoders)| {
                    let points = path
                        .points
                        .iter()
                        .zip(decoders)
                        .flat_map(|(s, d)| {
                            let beta = s.beta.to_f64();
                            (0..d.nrows()).map(move |t| (beta, d[(t, y)].to_f64()))
                        })
                        .collect();
                    let mut series = Series::new(
                        format!("{} sweep: distinct clusters", path.direction.as_str()),
                        points,
                    );
                    series.markers_only = true;
                    series
                })
                .collect(),
        })
        .collect();
    let which = match (p.ny(), shown.len()) {
        (2, _) => format!(
            "y = {}; q(y = {}|t) is 1 minus it",
            p.y_labels()[0],
            p.y_labels()[1]
        ),
        (ny, k) if k == ny => "every y".to_string(),
        (ny, k) => format!("the {k} most probable of {ny} y (all: decoders.csv)"),
    };
    written.extend(panel_plot(
        &dir.join("bifurcation_diagram"),
        &format!("Decoders q(y|t) of the distinct clusters, {method}: {which}"),
        "beta (log scale)",
        "q(y|t)",
        true,
        &panels,
    )?);
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bifurcation::SupremumMethod;

    /// The check passes with the true s* of the binary-X example and warns, with the
    /// path's upper bound on the onset, when handed a supremum below what the path shows
    /// (as a search that missed the global maximum would return).
    #[test]
    fn the_onset_check_warns_when_a_path_beats_the_searched_supremum() {
        let p = crate::io::parse_joint::<f64>(
            "binary",
            "0.72,0.18\n0.01,0.09\n",
            &crate::io::ReadOptions::default(),
        )
        .unwrap()
        .joint;
        let stop = crate::solve::Stop::<f64>::default();
        let options = AnnealOptions {
            adaptive: true,
            max_points: 200,
            ..AnnealOptions::new(stop)
        };
        let betas: Vec<f64> = (0..20).map(|i| 2.0 + 0.25 * i as f64).collect();
        let down = anneal(&Ib, &p, &betas, Direction::Down, &options, &|_| {});
        let cell = |value: f64| {
            let onset = OnceLock::new();
            let _ = onset.set(Some(Supremum {
                value,
                argmax: vec![],
                method: SupremumMethod::Search,
                polish: None,
            }));
            onset
        };
        let paths = [down];
        let (text, json) = onset_check("ib", &cell(0.3907806968453705), &paths).unwrap();
        assert!(
            text.contains("consistent") && json["consistent"] == true,
            "{text}"
        );
        let (text, json) = onset_check("ib", &cell(0.35), &paths).unwrap();
        assert!(
            text.starts_with("warning") && json["consistent"] == false,
            "{text}"
        );
        let ratio = json["largest_ratio_on_paths"].as_f64().unwrap();
        assert!(ratio > 0.39 && ratio <= 0.3907806968453705, "{ratio}");
        assert!(onset_check("dualib", &cell(0.35), &paths).is_none());
    }

    /// The dual check passes with the searched η_dual of the dual-IB paper example (which
    /// tests/thresholds.rs checks against mpmath) and of a 4x3 joint whose rows share one
    /// outcome (η_dual on a face; the interior search alone gave 0), and warns when handed
    /// a value 1% below (a missed supremum); on the 32x32 discretised Gaussian, whose tails
    /// hold exact zeros, the search (interior only above 12 inputs) misses the faces and the
    /// check says so.
    #[test]
    fn the_dual_onset_check_warns_when_a_new_cluster_grows_below_the_onset() {
        let read = |text: &str| {
            crate::io::parse_joint::<f64>(
                "t",
                text,
                &crate::io::ReadOptions {
                    normalize: true,
                    ..Default::default()
                },
            )
            .unwrap()
            .joint
        };
        let cell = |sup: Option<Supremum<f64>>| {
            let onset = OnceLock::new();
            let _ = onset.set(sup);
            onset
        };
        let paper = read(include_str!("../../data/examples/dualib_5x2.csv"));
        let shared_one = read(
            "0,0.305129,0.187756\n0,0.015970,0\n0.042889,0.174129,0.180432\n0.033189,0.060504,0\n",
        );
        for p in [&paper, &shared_one] {
            let sup = crate::bifurcation::dual_nucleation_constant(p);
            assert!(sup.value > 0.0);
            let eta = sup.value;
            let (text, json) = eta_dual_check("dualib", p, &cell(Some(sup.clone()))).unwrap();
            assert!(json["consistent"] == true, "{text}");
            let low = Supremum {
                value: 0.99 * eta,
                ..sup
            };
            let (text, json) = eta_dual_check("dualib", p, &cell(Some(low))).unwrap();
            assert!(
                text.starts_with("warning") && json["consistent"] == false,
                "{text}"
            );
        }
        let gaussian = read(include_str!("../../data/examples/gaussian_rho0.9_n32.csv"));
        let sup = crate::bifurcation::dual_nucleation_constant(&gaussian);
        let (text, _) = eta_dual_check("dualib", &gaussian, &cell(Some(sup))).unwrap();
        assert!(text.starts_with("warning"), "{text}");
        assert!(eta_dual_check("ib", &paper, &cell(None)).is_none());
    }

    #[test]
    fn the_diagram_draws_every_y_up_to_twelve_else_the_most_probable() {
        assert_eq!(diagram_outcomes(&[0.3, 0.7]), vec![0]);
        assert_eq!(diagram_outcomes(&[0.2, 0.5, 0.3]), vec![0, 1, 2]);
        // 16 outcomes, y = 15 the most probable, the rest tied: ties go to the first labels.
        let mut p = vec![1.0; 16];
        p[15] = 2.0;
        let want: Vec<usize> = (0..11).chain([15]).collect();
        assert_eq!(diagram_outcomes(&p), want);
    }
}
