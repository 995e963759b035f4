//! `ibex solve`: one IB, dual-IB or DIB solution at a fixed beta.

use std::io::Write;
use std::path::PathBuf;

use nalgebra::DMatrix;
use serde_json::{json, Value};

use super::report::Report;
use super::{emit, Format, JointInput};
use crate::bottleneck::Bottleneck;
use crate::dib::GeneralizedIb;
use crate::dist::Joint;
use crate::dual_ib::DualIb;
use crate::error::{Error, Result};
use crate::ib::Ib;
use crate::info::{mutual_information, nats_to_bits};
use crate::io::{read_matrix, JointFile};
use crate::scalar::{tol, Real};
use crate::solve::{
    max_correlation_split, solve_best, Acceleration, Init, MergeTol, Solution, Stop,
};
use crate::with_precision;

/// The bottleneck methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Method {
    /// Information bottleneck (Tishby, Pereira & Bialek): KL[p(y|x) || q(y|t)], Markov decoder.
    Ib,
    /// Dual information bottleneck (Piran, Shwartz-Ziv & Tishby): KL[q(y|t) || p(y|x)], geometric-mean decoder.
    Dualib,
    /// Deterministic / generalised IB (Strouse & Schwab): H(T) - alpha H(T|X) - beta I(T;Y).
    Dib,
}

/// How the fixed-point iteration is driven (`--acceleration`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum AccelerationArg {
    /// SQUAREM for single solves and up sweeps, Anderson where clusters only merge (down sweeps, independent mode).
    #[default]
    Auto,
    /// SQUAREM (Varadhan & Roland 2008), objective-guarded.
    Squarem,
    /// Anderson acceleration of depth 5 (Walker & Ni 2011), objective-guarded.
    Anderson,
    /// The plain Blahut-Arimoto iteration.
    None,
}

impl AccelerationArg {
    /// The library's choice.
    pub fn acceleration(self) -> Acceleration {
        match self {
            AccelerationArg::Auto => Acceleration::Auto,
            AccelerationArg::Squarem => Acceleration::Squarem,
            AccelerationArg::Anderson => Acceleration::Anderson,
            AccelerationArg::None => Acceleration::None,
        }
    }
}

/// Arguments of `ibex solve`.
#[derive(Debug, Clone, clap::Args)]
pub struct SolveArgs {
    /// The joint distribution.
    #[command(flatten)]
    pub input: JointInput,
    /// beta in L = I(X;T) - beta I(T;Y) (natural-log convention; embo's beta is this times ln 2).
    #[arg(long, allow_hyphen_values = true)]
    pub beta: String,
    /// Which method.
    #[arg(long, value_enum, default_value_t = Method::Ib)]
    pub method: Method,
    /// alpha of the generalised IB (only with --method dib; 0 = deterministic IB, 1 = IB).
    #[arg(long, allow_hyphen_values = true)]
    pub alpha: Option<String>,
    /// Number of clusters |T| (default |X|).
    #[arg(long, value_parser = super::parse_unsigned::<usize>, allow_negative_numbers = true)]
    pub clusters: Option<usize>,
    /// Seed of the random initial encoder (ChaCha20).
    #[arg(long, default_value_t = 0, value_parser = super::parse_unsigned::<u64>, allow_negative_numbers = true)]
    pub seed: u64,
    /// Converged when max |q_{n+1}(t|x) - q_n(t|x)| <= tol (default epsilon^(2/3): 3.7e-11 in f64).
    #[arg(long, allow_hyphen_values = true)]
    pub tol: Option<String>,
    /// Iteration cap (evaluations of the iteration map).
    #[arg(long, default_value_t = 100_000, value_parser = super::parse_unsigned::<usize>, allow_negative_numbers = true)]
    pub max_iter: usize,
    /// How the iteration is driven; every choice stops at the same fixed-point test.
    #[arg(long, value_enum, default_value_t = AccelerationArg::Auto)]
    pub acceleration: AccelerationArg,
    /// Initial encoder: identity (q(t|x) = [t = x mod K], the default: no cluster needs to be
    /// created, only merged), random (seeded) or a CSV file (rows x, columns t; each row is
    /// divided by its sum, and rows not summing to 1 are reported in the warnings). The
    /// single-cluster (trivial) solution is always compared as well.
    #[arg(long, default_value = "identity")]
    pub init: String,
    /// Random starts (seeds seed, seed+1, ...), run in parallel beside the --init start
    /// (identity or random; not with a file); the lowest objective wins.
    #[arg(long, default_value_t = 0, value_parser = super::parse_unsigned::<usize>, allow_negative_numbers = true)]
    pub restarts: usize,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Json)]
    pub format: Format,
    /// Also write the encoder q(t|x) (rows x, columns t: the --clusters allowed, unused
    /// ones 0) as CSV; usable as --init. Refused when it names an input file.
    #[arg(long)]
    pub encoder_out: Option<PathBuf>,
}

/// Runs `ibex solve`.
pub fn run(args: &SolveArgs, out: &mut dyn Write) -> Result<()> {
    let report = with_precision!(args.input.precision, solve_report(args))?;
    emit(out, &report.render(args.format)?)
}

/// Parses a real command-line value at the working precision.
pub(crate) fn parse_real<T: Real>(name: &str, text: &str, expected: &str) -> Result<T> {
    T::parse(text.trim())
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| Error::parameter(name, format!("`{text}`"), expected))
}

/// A beta of a command line given to the flag `name` (named in the error): finite and
/// >= 0.
pub(crate) fn parse_beta<T: Real>(name: &str, text: &str) -> Result<T> {
    let beta: T = parse_real(name, text, "a finite number >= 0")?;
    if beta < T::zero() {
        return Err(Error::parameter(
            name,
            format!("`{text}`"),
            "a finite number >= 0",
        ));
    }
    Ok(beta)
}

/// The largest `--tol` accepted (the smallest is the precision's epsilon). The cluster
/// count drops clusters of mass at most tol and merges decoders within sqrt(tol)
/// ([`MergeTol::for_stop`]): at `--tol 0.25` a cluster of mass 0.198 vanished from the 3x3
/// example's solution at β = 5, and at 0.6 every one did.
const MAX_TOL: f64 = 1e-4;

/// The stopping rule of a command line.
pub(crate) fn parse_stop<T: Real>(
    tol_text: Option<&str>,
    max_iter: usize,
    acceleration: AccelerationArg,
) -> Result<Stop<T>> {
    let tol = match tol_text {
        Some(t) => {
            let v: T = parse_real("--tol", t, "a positive number such as 1e-12")?;
            if v < T::epsilon() || v > T::from_f64(MAX_TOL) {
                return Err(Error::parameter(
                    "--tol",
                    format!("`{t}`"),
                    format!(
                        "a number from the precision's epsilon ({:.1e}; a smaller step is \
                         rounding, so the iteration would always run to --max-iter) to \
                         {MAX_TOL:e} (clusters of mass at most tol are dropped and decoders \
                         within sqrt(tol) merged, so a larger tolerance loses real \
                         clusters)",
                        T::epsilon().to_f64()
                    ),
                ));
            }
            v
        }
        None => tol::default_tol::<T>(),
    };
    if max_iter == 0 {
        return Err(Error::parameter("--max-iter", "0", "at least 1"));
    }
    Ok(Stop::new(max_iter, tol).with_acceleration(acceleration.acceleration()))
}

fn solve_report<T: Real>(args: &SolveArgs) -> Result<Report> {
    let file = args.input.read::<T>()?;
    let beta = parse_beta::<T>("--beta", &args.beta)?;
    let stop = parse_stop::<T>(args.tol.as_deref(), args.max_iter, args.acceleration)?;
    let clusters = args.clusters.unwrap_or(file.joint.nx());
    if clusters == 0 || clusters > 100_000 {
        return Err(Error::parameter(
            "--clusters",
            clusters.to_string(),
            "between 1 and 100000",
        ));
    }
    if args.restarts > 0 && !matches!(args.init.as_str(), "identity" | "random") {
        return Err(Error::parameter(
            "--restarts",
            args.restarts.to_string(),
            "0 with --init FILE (restarts go with --init identity or random)",
        ));
    }
    match (args.method, &args.alpha) {
        (Method::Ib, None) => finish_report(&Ib, args, &file, &beta, &stop, clusters),
        (Method::Dualib, None) => finish_report(&DualIb, args, &file, &beta, &stop, clusters),
        (Method::Dib, alpha) => {
            let alpha = match alpha {
                Some(a) => {
                    let v: T = parse_real("--alpha", a, "a number >= 0")?;
                    if v < T::zero() {
                        return Err(Error::parameter(
                            "--alpha",
                            format!("`{a}`"),
                            "a number >= 0",
                        ));
                    }
                    v
                }
                None => T::zero(),
            };
            finish_report(
                &GeneralizedIb { alpha },
                args,
                &file,
                &beta,
                &stop,
                clusters,
            )
        }
        (_, Some(_)) => Err(Error::parameter(
            "--alpha",
            "--alpha with --method ib or dualib",
            "--alpha only with --method dib",
        )),
    }
}

/// The starts: the --init one (for `random`, seed `seed`), then --restarts random ones
/// (the following seeds); each with a description.
fn starts<T: Real>(
    args: &SolveArgs,
    p: &Joint<T>,
    clusters: usize,
    warnings: &mut Vec<String>,
) -> Result<Vec<(DMatrix<T>, String)>> {
    let nx = p.nx();
    let mut out = Vec::new();
    let mut next_seed = args.seed;
    match args.init.as_str() {
        "identity" => out.push((
            Init::Identity.encoder(nx, clusters)?,
            "identity".to_string(),
        )),
        "random" => {
            let start = Init::Random { seed: next_seed }.encoder(nx, clusters)?;
            out.push((start, format!("random seed {next_seed}")));
            next_seed = next_seed.wrapping_add(1);
        }
        path => {
            let m = read_matrix::<T>(path.as_ref())?;
            if let Some(note) = init_rows_not_normalised(&m) {
                warnings.push(format!("--init {path}: {note}"));
            }
            out.push((
                Init::Encoder(m).encoder(nx, clusters)?,
                format!("file {path}"),
            ));
        }
    }
    for k in 0..args.restarts as u64 {
        let seed = next_seed.wrapping_add(k);
        let start = Init::Random { seed }.encoder(nx, clusters)?;
        out.push((start, format!("random seed {seed}")));
    }
    // Above 1/rho_m^2 the trivial solution is a saddle; this start leaves it along its
    // unstable direction, where T = X on a joint with zeros can lose a cluster and end there.
    if let Some(split) = max_correlation_split::<T>(p, clusters) {
        out.push((split, "max-correlation split".to_string()));
    }
    // The trivial solution is a fixed point of every method; comparing against it catches
    // starts that stop in a worse local optimum (the DIB from the identity start at small
    // beta, as Strouse & Schwab's code also checks).
    out.push((
        Init::SingleCluster.encoder(nx, clusters)?,
        "single cluster".to_string(),
    ));
    Ok(out)
}

/// A note when some row of an `--init` encoder does not sum to 1 within sqrt(epsilon) of
/// the working precision (the rows are divided by their sums, so weights are accepted, but
/// a file meant as an encoder whose rows sum to 1.1 is more likely a mistake than weights).
fn init_rows_not_normalised<T: Real>(m: &DMatrix<T>) -> Option<String> {
    let slack = T::epsilon().sqrt();
    let sums: Vec<T> = m
        .row_iter()
        .map(|r| r.iter().fold(T::zero(), |a, v| a + v))
        .collect();
    let off: Vec<usize> = (0..sums.len())
        .filter(|&x| (sums[x].clone() - T::one()).abs() > slack)
        .collect();
    let first = *off.first()?;
    Some(format!(
        "{} of {} rows do not sum to 1 (row {} (x = {first}) sums to {}); each row was \
         divided by its sum",
        off.len(),
        sums.len(),
        first + 1,
        sums[first].to_f64()
    ))
}

fn finish_report<T: Real, B: Bottleneck<T>>(
    method: &B,
    args: &SolveArgs,
    file: &JointFile<T>,
    beta: &T,
    stop: &Stop<T>,
    clusters: usize,
) -> Result<Report> {
    let p = &file.joint;
    if let Some(path) = &args.encoder_out {
        // Before the solve, so that a bad path does not cost the computation.
        let mut inputs = vec![("FILE", args.input.file.as_path())];
        if !matches!(args.init.as_str(), "identity" | "random") {
            inputs.push(("--init", std::path::Path::new(&args.init)));
        }
        super::refuse_overwriting_inputs("--encoder-out", path, &inputs)?;
        super::check_output_file("--encoder-out", path)?;
    }
    let merge = MergeTol::for_stop(stop);
    let mut warnings = Vec::new();
    let (inits, names): (Vec<_>, Vec<_>) = starts::<T>(args, p, clusters, &mut warnings)?
        .into_iter()
        .unzip();
    let (solution, index) = solve_best(method, p, beta, inits, stop, &merge);
    if let Some(path) = &args.encoder_out {
        write_encoder(path, &solution, file, clusters)?;
    }
    if method.name() == "dualib" && p.has_zero_conditionals() {
        warnings.push("p(y|x) has zeros: the dual IB's geometric decoder is undefined for clusters whose members' supports do not intersect (their objective is +inf), and gives y no mass in any cluster holding an x with p(y|x) = 0, which the iteration cannot undo (zeros are absorbing), so starts that mix inputs (random, a single cluster) can end far above the identity start; --label-noise EPS (e.g. 1e-6) removes the zeros".to_string());
    }
    Ok(solution_report(
        &solution,
        file,
        &mutual_information(p),
        stop,
        &names[index],
        args,
        warnings,
    ))
}

/// Writes the encoder with `clusters` columns: the solution's own (which the escape from
/// support traps can leave with fewer, one per distinct cluster) padded with empty ones,
/// so that the file is a valid `--init` for the same `--clusters`.
fn write_encoder<T: Real>(
    path: &PathBuf,
    s: &Solution<T>,
    file: &JointFile<T>,
    clusters: usize,
) -> Result<()> {
    let mut text = format!(
        "# encoder q(t|x) from ibex {} solve {} --method {} --beta {}; rows = x ({}), columns = t\n",
        env!("CARGO_PKG_VERSION"),
        file.source,
        s.method,
        s.beta.to_decimal(),
        file.joint.x_labels().join(" ")
    );
    for x in 0..s.q_t_given_x.nrows() {
        let mut row: Vec<String> = s
            .q_t_given_x
            .row(x)
            .iter()
            .map(|v| v.to_decimal())
            .collect();
        while row.len() < clusters {
            row.push(T::zero().to_decimal());
        }
        text.push_str(&row.join(","));
        text.push('\n');
    }
    std::fs::write(path, text)
        .map_err(|e| Error::io(format!("--encoder-out {}", path.display()), e))
}

/// The report of one solution (stable keys).
fn solution_report<T: Real>(
    s: &Solution<T>,
    file: &JointFile<T>,
    i_xy: &T,
    stop: &Stop<T>,
    start: &str,
    args: &SolveArgs,
    warnings: Vec<String>,
) -> Report {
    let mut r = Report::default();
    r.value("file", "file", "", Value::String(file.source.clone()));
    super::report_label_noise(&mut r, file);
    r.value("method", "method", "", Value::String(s.method.into()));
    r.real("beta", "beta", "", &s.beta);
    r.value(
        "precision_bits",
        "precision",
        "bits",
        json!(T::PRECISION_BITS),
    );
    r.real("i_xt_bits", "I(X;T)", "bits", &nats_to_bits(&s.i_xt));
    r.real("i_ty_bits", "I(T;Y)", "bits", &nats_to_bits(&s.i_ty));
    // H(T) of the distinct clusters: duplicated clusters (equal decoders) are one value of T.
    let masses: Vec<T> = s.clusters.iter().map(|(m, _)| m.clone()).collect();
    r.real(
        "h_t_bits",
        "H(T) (distinct clusters)",
        "bits",
        &nats_to_bits(&crate::info::entropy(&masses)),
    );
    r.real(
        "i_xy_bits",
        "I(X;Y) (the bound on I(T;Y))",
        "bits",
        &nats_to_bits(i_xy),
    );
    r.real("objective", "objective", "nats", &s.objective);
    r.value("clusters", "distinct clusters", "", json!(s.clusters.len()));
    // The limit (--clusters, default |X|), not the solution's column count: the escape
    // from support traps re-solves with one column per distinct cluster.
    r.value(
        "clusters_allowed",
        "clusters allowed |T|",
        "",
        json!(args.clusters.unwrap_or(file.joint.nx())),
    );
    r.value("iterations", "iterations", "", json!(s.iterations));
    r.value(
        "termination",
        "termination",
        "",
        Value::String(s.termination.as_str().into()),
    );
    r.real("residual", "residual max|dq(t|x)|", "", &s.residual);
    r.real("tol", "tolerance", "", &stop.tol);
    r.value("start", "winning start", "", json!(start));
    r.value("restarts", "random restarts", "", json!(args.restarts));
    r.reals("q_t", "q(t) of the distinct clusters", "", &masses);
    let distinct = s.distinct_decoders();
    let decoders: Vec<Value> = distinct
        .row_iter()
        .map(|row| json!(row.iter().map(|v| v.to_f64()).collect::<Vec<_>>()))
        .collect();
    r.value(
        "q_y_given_t",
        "q(y|t) of the distinct clusters",
        "",
        Value::Array(decoders),
    );
    r.value("warnings", "warnings", "", json!(warnings));
    r
}
