//! The `ibex` command line: argument types (clap), precision dispatch, and the
//! subcommands. No mathematics lives here: each subcommand turns arguments into library
//! types, calls the library, and hands the results to a [`report::Report`].

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand, ValueEnum};

use crate::error::{Error, Result};
use crate::io::{read_joint, InputLayout, JointFile, ReadOptions};
use crate::scalar::Real;

pub(crate) mod anneal;

mod demo;
mod gen;
mod info;
mod ntk;
pub mod report;
mod solve;

/// ibex: exact information-bottleneck quantities (nats inside; bits at the I/O
/// boundary, labelled `_bits`; beta in L = I(X;T) - beta I(T;Y)).
#[derive(Debug, Parser)]
#[command(name = "ibex", version, about, long_about = None)]
pub struct Args {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Entropies, mutual information, maximal correlation and the first critical beta of a joint p(x,y).
    Info(InfoArgs),
    /// One IB, dual-IB or DIB solution at a fixed beta (L = I(X;T) - beta I(T;Y), nats).
    Solve(solve::SolveArgs),
    /// The whole IB or dual-IB curve across beta: paths, bifurcations, plots (into --out DIR).
    Anneal(anneal::AnnealArgs),
    /// Just the table of bifurcations (and the trivial solution's thresholds).
    Bifurcations(anneal::SweepArgs),
    /// Write a standard joint distribution as dense CSV (exact decimals summing to 1).
    Gen(GenArgs),
    /// Run the main job on the bundled example data and print the results.
    Demo(DemoArgs),
    /// Closed-form NTK/NNGP information of infinite ensembles of infinitely wide networks.
    Ntk(ntk::NtkArgs),
}

/// How a joint distribution is read (shared by every command that reads one).
#[derive(Debug, Clone, clap::Args)]
pub struct JointInput {
    /// CSV file: dense matrix (rows = x, columns = y, no header) unless --long.
    pub file: PathBuf,
    /// Divide the entries by their sum (and report it) instead of requiring a sum of 1.
    #[arg(long)]
    pub normalize: bool,
    /// The entries are non-negative integer counts; p(x,y) = n(x,y)/N exactly.
    #[arg(long)]
    pub counts: bool,
    /// Long layout: a header `x,y,p` or `x,y,count`, then one `x,y,value` line per pair.
    #[arg(long)]
    pub long: bool,
    /// Working precision: f64, or MPFR bits 128, 256, 512, 1024.
    #[arg(long, default_value = "f64", value_parser = parse_precision, allow_hyphen_values = true)]
    pub precision: u32,
    /// Mix uniform label noise into p(y|x): p(y|x) <- (1 - EPS) p(y|x) + EPS/|Y|, p(x) kept
    /// (reported in every output). Removes the zeros of p(y|x) that the dual IB cannot
    /// handle.
    #[arg(long, value_name = "EPS", allow_hyphen_values = true)]
    pub label_noise: Option<String>,
}

impl JointInput {
    /// Reads the joint with these flags, at precision `T`, and mixes in `--label-noise`.
    ///
    /// # Errors
    /// Those of [`crate::io::read_joint`], and a parameter error when `--label-noise` is not
    /// a number in [0, 1].
    pub fn read<T: Real>(&self) -> Result<JointFile<T>> {
        let mut file = read_joint::<T>(&self.file, &self.read_options())?;
        if let Some(text) = &self.label_noise {
            let bad = || {
                Error::parameter(
                    "--label-noise",
                    format!("`{text}`"),
                    "a probability in [0, 1] (e.g. 1e-6)",
                )
            };
            let epsilon = T::parse(text.trim())
                .ok()
                .filter(|v| v.is_finite() && *v >= T::zero() && *v <= T::one())
                .ok_or_else(bad)?;
            file.joint = file.joint.with_label_noise(&epsilon).map_err(|_| bad())?;
            file.label_noise = Some(epsilon);
        }
        Ok(file)
    }

    /// The library's read options for these flags.
    pub fn read_options(&self) -> ReadOptions {
        ReadOptions {
            layout: if self.long {
                InputLayout::Long
            } else {
                InputLayout::Dense
            },
            counts: self.counts,
            normalize: self.normalize,
        }
    }
}

/// Adds `label_noise` to a report when `--label-noise` was mixed into the joint.
fn report_label_noise<T: Real>(r: &mut report::Report, file: &JointFile<T>) {
    if let Some(epsilon) = &file.label_noise {
        r.real(
            "label_noise",
            "label noise mixed into p(y|x) (--label-noise)",
            "",
            epsilon,
        );
    }
}

/// Output format of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned `quantity value unit` lines.
    Table,
    /// One JSON object with stable keys.
    Json,
    /// A header line of keys and one line of values.
    Csv,
}

/// Arguments of `ibex info`.
#[derive(Debug, Clone, clap::Args)]
pub struct InfoArgs {
    /// The joint distribution.
    #[command(flatten)]
    pub input: JointInput,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// Arguments of `ibex gen`.
#[derive(Debug, Clone, clap::Args)]
pub struct GenArgs {
    /// Which distribution.
    #[command(subcommand)]
    pub kind: GenKind,
    /// Write to this file instead of standard output.
    #[arg(long, global = true)]
    pub out: Option<PathBuf>,
}

/// The generators.
#[derive(Debug, Clone, Subcommand)]
pub enum GenKind {
    /// Doubly symmetric binary source: X ~ Bern(1/2), Y = X xor N, N ~ Bern(E).
    Dsbs {
        /// Crossover probability E in [0, 1], a plain decimal (exact arithmetic).
        #[arg(long, allow_hyphen_values = true)]
        crossover: String,
    },
    /// p(x,y) ~ Dirichlet(alpha) over all nx*ny cells.
    Dirichlet {
        /// Number of x values (rows).
        #[arg(long, value_parser = parse_unsigned::<usize>, allow_negative_numbers = true)]
        nx: usize,
        /// Number of y values (columns).
        #[arg(long, value_parser = parse_unsigned::<usize>, allow_negative_numbers = true)]
        ny: usize,
        /// ChaCha20 seed.
        #[arg(long, value_parser = parse_unsigned::<u64>, allow_negative_numbers = true)]
        seed: u64,
        /// Dirichlet concentration.
        #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
        alpha: f64,
    },
    /// Discretised standard bivariate normal with correlation rho on an n x n grid.
    Gaussian {
        /// Grid size per axis.
        #[arg(long, value_parser = parse_unsigned::<usize>, allow_negative_numbers = true)]
        n: usize,
        /// Correlation in (-1, 1).
        #[arg(long, allow_negative_numbers = true)]
        rho: f64,
        /// Half-width of the grid in standard deviations.
        #[arg(long, default_value_t = 4.0, allow_negative_numbers = true)]
        range: f64,
    },
    /// Sparse joint: each row has nnz non-zero cells at random columns.
    Sparse {
        /// Number of x values (rows).
        #[arg(long, value_parser = parse_unsigned::<usize>, allow_negative_numbers = true)]
        nx: usize,
        /// Number of y values (columns).
        #[arg(long, value_parser = parse_unsigned::<usize>, allow_negative_numbers = true)]
        ny: usize,
        /// Non-zeros per row.
        #[arg(long, value_parser = parse_unsigned::<usize>, allow_negative_numbers = true)]
        nnz: usize,
        /// ChaCha20 seed.
        #[arg(long, value_parser = parse_unsigned::<u64>, allow_negative_numbers = true)]
        seed: u64,
        /// Dirichlet concentration of the weights within a row.
        #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
        alpha: f64,
    },
}

/// Arguments of `ibex demo`.
#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    /// Where the demo writes its sweeps and plots.
    #[arg(long, default_value = "ibex-demo")]
    pub out: PathBuf,
}

/// A clap value parser for counts, seeds and sizes: an unsigned integer, with a message
/// that says so when given a negative number (clap's own parser only says "invalid
/// digit"). With `allow_negative_numbers` on the argument, `-1` reaches this parser
/// instead of being taken for a flag.
pub(crate) fn parse_unsigned<U: TryFrom<u128>>(s: &str) -> std::result::Result<U, String> {
    let text = s.trim();
    let expected = "expected a non-negative integer (0, 1, 2, ...)";
    let digits = text.strip_prefix('+').unwrap_or(text);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        let bits = 8 * std::mem::size_of::<U>();
        return digits
            .parse::<u128>()
            .ok()
            .and_then(|v| U::try_from(v).ok())
            .ok_or_else(|| format!("found `{text}`, too large; {expected} below 2^{bits}"));
    }
    if text.starts_with('-') && text[1..].parse::<f64>().is_ok() {
        return Err(format!("found the negative number `{text}`; {expected}"));
    }
    Err(format!("found `{text}`; {expected}"))
}

/// Whether `a` and `b` name the same existing file (the same device and inode on Unix,
/// so hard links and symbolic links count; equal canonical paths elsewhere). False when
/// either does not exist.
pub(crate) fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (std::fs::metadata(a), std::fs::metadata(b)) {
            (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
            (Ok(x), Ok(y)) => x == y,
            _ => false,
        }
    }
}

/// Refuses to write `out` (the output given to `out_flag`) when it is the same file as
/// one of `inputs` (each with the flag, or `FILE`, that named it).
///
/// # Errors
/// A parameter error naming both flags.
pub(crate) fn refuse_overwriting_inputs(
    out_flag: &str,
    out: &Path,
    inputs: &[(&str, &Path)],
) -> Result<()> {
    for (flag, input) in inputs {
        if same_file(out, input) {
            return Err(Error::parameter(
                out_flag,
                format!(
                    "`{}`, the same file as the input {flag} `{}`",
                    out.display(),
                    input.display()
                ),
                format!("an output path that is not an input ({out_flag} would overwrite {flag})"),
            ));
        }
    }
    Ok(())
}

/// Checks, before any work is done, that a file can be written at `path` (given to
/// `flag`): not a directory, in an existing directory, writable. An existing file is
/// opened for appending and left as it is; a missing one is created and removed again.
///
/// # Errors
/// A parameter error naming `flag`, the path, what is wrong and what was expected.
pub(crate) fn check_output_file(flag: &str, path: &Path) -> Result<()> {
    let shown = path.display();
    let bad = |found: String, expected: &str| Err(Error::parameter(flag, found, expected));
    if path.is_dir() {
        return bad(
            format!("`{shown}`, a directory"),
            "a file path (the file is created or replaced)",
        );
    }
    if path.exists() {
        return match OpenOptions::new().append(true).open(path) {
            Ok(_) => Ok(()),
            Err(e) => bad(
                format!("`{shown}`, an existing file that cannot be written ({e})"),
                "a writable file path (the file is created or replaced)",
            ),
        };
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !parent.is_dir() {
        return bad(
            format!(
                "`{shown}`, whose directory `{}` does not exist or is not a directory",
                parent.display()
            ),
            "a file in an existing directory",
        );
    }
    match OpenOptions::new().write(true).create_new(true).open(path) {
        Ok(_) => {
            let _ = std::fs::remove_file(path);
            Ok(())
        }
        Err(e) => bad(
            format!("`{shown}`, which cannot be created ({e})"),
            "a path where a file can be written",
        ),
    }
}

/// Makes sure, before a long computation writes into it, that `dir` (given to `flag`) is
/// a directory in which files can be created: creates it if missing, refuses an existing
/// non-directory, and creates and removes a probe file in it.
///
/// # Errors
/// A parameter error naming `flag`, the path, what is wrong and what was expected.
pub(crate) fn prepare_output_dir(flag: &str, dir: &Path) -> Result<()> {
    let shown = dir.display();
    let bad = |found: String, expected: &str| Err(Error::parameter(flag, found, expected));
    if dir.exists() && !dir.is_dir() {
        return bad(
            format!("`{shown}`, which exists and is not a directory"),
            "a directory (it is created if missing)",
        );
    }
    if let Err(e) = std::fs::create_dir_all(dir) {
        return bad(
            format!("`{shown}`, a directory that cannot be created ({e})"),
            "a directory that exists or can be created",
        );
    }
    let probe = dir.join(format!(".ibex-write-check-{}", std::process::id()));
    match OpenOptions::new().write(true).create_new(true).open(&probe) {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        // Someone else's file of that name: the directory takes files.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => bad(
            format!("`{shown}`, a directory in which no file can be created ({e})"),
            "a writable directory",
        ),
    }
}

/// The precisions the command line offers.
pub const PRECISIONS: &str = "f64, 128, 256, 512 or 1024";

fn parse_precision(s: &str) -> std::result::Result<u32, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "f64" | "53" | "double" => Ok(53),
        #[cfg(feature = "mpfr")]
        "128" => Ok(128),
        #[cfg(feature = "mpfr")]
        "256" => Ok(256),
        #[cfg(feature = "mpfr")]
        "512" => Ok(512),
        #[cfg(feature = "mpfr")]
        "1024" => Ok(1024),
        other => Err(format!("found `{other}`, expected {PRECISIONS}")),
    }
}

/// Calls `$f::<T>($args)` with `T` the scalar type of `$bits` bits.
#[macro_export]
#[doc(hidden)]
macro_rules! with_precision {
    ($bits:expr, $f:ident ( $($arg:expr),* )) => {{
        match $bits {
            #[cfg(feature = "mpfr")]
            128 => $f::<$crate::scalar::Mp128>($($arg),*),
            #[cfg(feature = "mpfr")]
            256 => $f::<$crate::scalar::Mp256>($($arg),*),
            #[cfg(feature = "mpfr")]
            512 => $f::<$crate::scalar::Mp512>($($arg),*),
            #[cfg(feature = "mpfr")]
            1024 => $f::<$crate::scalar::Mp1024>($($arg),*),
            _ => $f::<f64>($($arg),*),
        }
    }};
}

/// Runs the command, writing its output to `out`.
///
/// # Errors
/// Bad input (files, parameters) and failures to write.
pub fn run(args: Args, out: &mut dyn Write) -> Result<()> {
    match args.command {
        Command::Info(a) => info::run(&a, out),
        Command::Solve(a) => solve::run(&a, out),
        Command::Anneal(a) => anneal::run_anneal(&a, out),
        Command::Bifurcations(a) => anneal::run_bifurcations(&a, out),
        Command::Gen(a) => gen::run(&a, out),
        Command::Demo(a) => demo::run(&a, out),
        Command::Ntk(a) => ntk::run(&a, out),
    }
}

/// Writes `text` to `out`, naming standard output in the error.
pub(crate) fn emit(out: &mut dyn Write, text: &str) -> Result<()> {
    out.write_all(text.as_bytes())
        .map_err(|e| Error::io("<standard output>", e))
}
