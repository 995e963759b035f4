//! One study: kernels, the ensemble in each regime at each time, and every information
//! quantity along t, as rows ready for output. This is what `ibex ntk` runs; the command
//! line only reads files and writes these rows.

use nalgebra::DMatrix;

use super::ensemble::{Ensemble, Gaussian, Regime, Time, Training, WeightInfo};
use super::gaussian::{
    bayes_loglik, exact_information_1d, gibbs_loglik, kl_gaussians, label_groups, pairwise_bounds,
    Exact1d, PairwiseBounds,
};
use super::kernel::{FcNetwork, Kernels};
use crate::error::{Error, Result};
use crate::scalar::Real;

/// Over which inputs X is uniform in I(X;Z) and I(Z;Y).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PointSet {
    /// The training points followed by the test points (the default).
    All,
    /// The training points only.
    Train,
    /// The test points only.
    Test,
}

impl PointSet {
    /// `all`, `train` or `test`.
    pub fn name(self) -> &'static str {
        match self {
            PointSet::All => "all",
            PointSet::Train => "train",
            PointSet::Test => "test",
        }
    }
}

/// Training or test points.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    /// The training inputs (neural-tangents `x_test=None`).
    Train,
    /// The test inputs.
    Test,
}

impl Split {
    /// `train` or `test`.
    pub fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Test => "test",
        }
    }
}

/// What to compute.
#[derive(Clone, Debug)]
pub struct StudyConfig<T: Real> {
    /// The training times (t = 0 is the prior, `Time::Infinity` kernel regression).
    pub times: Vec<Time<T>>,
    /// Output-noise variances σ_n² ≥ 0 added to the ensemble's variance in I(X;Z), I(Z;Y).
    pub noise_vars: Vec<T>,
    /// The support of X in I(X;Z) and I(Z;Y).
    pub points: PointSet,
    /// The regimes, in output order.
    pub regimes: Vec<Regime>,
    /// Learning rate and diagonal regulariser.
    pub training: Training<T>,
    /// Exact I(X;Z) and I(Z;Y) by quadrature only for at most this many points.
    pub exact_max_points: usize,
}

/// The ensemble's marginal at one point: one row of `predictions.csv`.
#[derive(Clone, Debug)]
pub struct PredictionRow<T: Real> {
    /// Training time.
    pub t: Time<T>,
    /// Regime.
    pub regime: Regime,
    /// Split.
    pub split: Split,
    /// 0-based index of the point within its split (the row order of its file).
    pub index: usize,
    /// The ensemble mean μ_t(x), one entry per output channel.
    pub mean: Vec<T>,
    /// The ensemble variance Σ_t(x, x) (shared by the channels).
    pub var: T,
}

/// The information quantities at one (regime, t, σ_n²): one row of `info.csv`. All in
/// nats; `None` where undefined, not finite at the working precision (overflow), or, for
/// the exact values, outside their proven ranges (the reason is in the study's warnings).
#[derive(Clone, Debug)]
pub struct InfoRow<T: Real> {
    /// Training time.
    pub t: Time<T>,
    /// Regime.
    pub regime: Regime,
    /// σ_n², the output-noise variance.
    pub noise_var: T,
    /// Kolchinsky-Tracey Bhattacharyya lower bound on I(X;Z).
    pub i_xz_lower: Option<T>,
    /// Kolchinsky-Tracey KL upper bound on I(X;Z).
    pub i_xz_upper: Option<T>,
    /// I(X;Z) by quadrature (1-D outputs only).
    pub i_xz_exact: Option<T>,
    /// KL(N(μ_t, Σ_t) ‖ N(0, Σ_0)) jointly over the test points (spec A.2 Q4).
    pub kl_posterior_prior: Option<T>,
    /// Gibbs log-likelihood over the test points (spec A.2 Q1).
    pub gibbs_loglik: Option<T>,
    /// Bayes log-likelihood over the test points (spec A.2 Q2).
    pub bayes_loglik: Option<T>,
    /// tr Θ(X_train, X_train) (spec A.2 Q5).
    pub trace_ntk: Option<T>,
    /// Lower bound on I(Z;Y), Y the label (target value) of the point.
    pub i_zy_lower: Option<T>,
    /// Upper bound on I(Z;Y).
    pub i_zy_upper: Option<T>,
    /// I(Z;Y) by quadrature (1-D outputs only).
    pub i_zy_exact: Option<T>,
    /// KL to the prior jointly over the training points.
    pub kl_posterior_prior_train: Option<T>,
    /// Gibbs log-likelihood over the training points.
    pub gibbs_loglik_train: Option<T>,
    /// Bayes log-likelihood over the training points.
    pub bayes_loglik_train: Option<T>,
    /// The expected training loss of one ensemble member,
    /// E L = (1/(2n)) [Σ_{i,c} (Y_ic − μ_ic)² + k·tr Σ_t(X, X)], n = N·k \[derived\].
    pub loss_train: Option<T>,
    /// The same on the test points (n = M·k).
    pub loss_test: Option<T>,
    /// Weight-space quantities (spec A.2 Q6, Q6′, Q7).
    pub weights: WeightInfo<T>,
    /// ln P, P the number of points X is uniform over (the largest I(X;Z)).
    pub ln_m: T,
}

/// Everything a study computed.
#[derive(Clone, Debug)]
pub struct Study<T: Real> {
    /// The kernels over the training then the test points.
    pub kernels: Kernels<T>,
    /// The marginals, ordered by regime, t, split, index.
    pub predictions: Vec<PredictionRow<T>>,
    /// The information rows, ordered by regime, t, σ_n².
    pub info: Vec<InfoRow<T>>,
    /// The effective diagonal regulariser ε' of each regime.
    pub diag_reg_effective: Vec<(Regime, T)>,
    /// Numerical trouble and undefined quantities, each said once.
    pub warnings: Vec<String>,
    /// k, the number of output channels (the columns of the targets).
    pub n_outputs: usize,
}

impl<T: Real> Study<T> {
    /// The columns of `predictions.csv` ([`Study::predictions_csv`]) with their meaning:
    /// `t`, `regime`, `split`, `index`, the mean of every output channel (`mean` for one
    /// channel; `mean_0` to `mean_{k−1}` for k > 1), and `var`, which every channel
    /// shares (the ensemble's covariance is Σ_t ⊗ I_k: the same for every channel).
    pub fn prediction_columns(&self) -> Vec<(String, String)> {
        let mut cols = vec![
            ("t".to_string(), "training time (inf allowed)".to_string()),
            ("regime".into(), "ntk or nngp".into()),
            ("split".into(), "train or test".into()),
            (
                "index".into(),
                "0-based row of the point within its file".into(),
            ),
        ];
        if self.n_outputs == 1 {
            cols.push(("mean".into(), "ensemble mean mu_t(x)".into()));
        } else {
            for c in 0..self.n_outputs {
                cols.push((
                    format!("mean_{c}"),
                    format!("ensemble mean mu_t(x) of output channel {c} (0-based target column)"),
                ));
            }
        }
        let shared = if self.n_outputs > 1 {
            "; the same for every output channel"
        } else {
            ""
        };
        cols.push((
            "var".into(),
            format!("ensemble variance Sigma_t(x, x) (without the output noise){shared}"),
        ));
        cols
    }

    /// The text of `predictions.csv`: the header ([`Study::prediction_columns`]), then
    /// one line per [`PredictionRow`], in the order of [`Study::predictions`], with the
    /// mean of every output channel. A mean or variance that is not finite is an empty
    /// cell (the warnings say why).
    pub fn predictions_csv(&self) -> String {
        let header: Vec<String> = self.prediction_columns().into_iter().map(|c| c.0).collect();
        let mut s = header.join(",");
        s.push('\n');
        for r in &self.predictions {
            let mut cells = vec![
                r.t.to_text(),
                r.regime.name().to_string(),
                r.split.name().to_string(),
                r.index.to_string(),
            ];
            cells.extend(r.mean.iter().map(super::finite_cell));
            cells.push(super::finite_cell(&r.var));
            s.push_str(&cells.join(","));
            s.push('\n');
        }
        s
    }
}

fn warn(warnings: &mut Vec<String>, w: String) {
    if !warnings.contains(&w) {
        warnings.push(w);
    }
}

/// Undefined quantities, gathered as (what, reason) → the times where they happened.
#[derive(Default)]
struct Gaps(Vec<(String, String, Vec<String>)>);

impl Gaps {
    fn note(&mut self, what: String, reason: &str, at: String) {
        match self.0.iter_mut().find(|g| g.0 == what && g.1 == reason) {
            Some(g) => {
                if !g.2.contains(&at) {
                    g.2.push(at)
                }
            }
            None => self.0.push((what, reason.to_string(), vec![at])),
        }
    }

    /// One warning per (reason, times): the quantities of one regime ("ntk: a",
    /// "ntk: b") empty for the same reason at the same times are named together, and
    /// the times are said as [`times_phrase`] says them (`n_times` distinct times ran).
    fn into_warnings(self, warnings: &mut Vec<String>, n_times: usize) {
        let mut merged: Vec<(String, Vec<String>, String, Vec<String>)> = Vec::new();
        for (what, reason, at) in self.0 {
            let (prefix, item) = match what.split_once(": ") {
                Some((p, i)) => (p.to_string(), i.to_string()),
                None => (String::new(), what),
            };
            match merged
                .iter_mut()
                .find(|m| m.0 == prefix && m.2 == reason && m.3 == at)
            {
                Some(m) => m.1.push(item),
                None => merged.push((prefix, vec![item], reason, at)),
            }
        }
        for (prefix, items, reason, at) in merged {
            let (list, verb) = match items.len() {
                1 => (items[0].clone(), "is"),
                n => (
                    format!("{} and {}", items[..n - 1].join(", "), items[n - 1]),
                    "are",
                ),
            };
            let head = if prefix.is_empty() {
                list
            } else {
                format!("{prefix}: {list}")
            };
            warn(
                warnings,
                format!(
                    "{head} {verb} empty at {}: {reason}",
                    times_phrase(&at, n_times)
                ),
            );
        }
    }
}

/// Times a warning lists in full; above this it gives their count and the first and
/// last [`TIMES_AT_EACH_END`].
const TIMES_IN_FULL: usize = 8;

/// How many of the first and of the last times a long list keeps.
const TIMES_AT_EACH_END: usize = 3;

/// The times `at` (distinct, in the order they ran, out of `n_times`) as a warning says
/// them: `t = 1, 10, inf` for at most [`TIMES_IN_FULL`]; otherwise their count and the
/// first and last few, `312 of 1001 times (t = 0.1, 0.2, 0.3, ..., 99.8, 100, inf)`
/// (`all 1001 times (...)` when none is missing), so that a warning about a run with
/// `--steps 1000` stays one readable line.
fn times_phrase(at: &[String], n_times: usize) -> String {
    if at.len() <= TIMES_IN_FULL {
        return format!("t = {}", at.join(", "));
    }
    let count = if at.len() >= n_times {
        format!("all {} times", at.len())
    } else {
        format!("{} of {n_times} times", at.len())
    };
    format!(
        "{count} (t = {}, ..., {})",
        at[..TIMES_AT_EACH_END].join(", "),
        at[at.len() - TIMES_AT_EACH_END..].join(", ")
    )
}

/// E L = (1/(2n)) [Σ (Y − μ)² + k tr Σ], n = rows·k.
fn expected_loss<T: Real>(y: &DMatrix<T>, g: &Gaussian<T>) -> Option<T> {
    let (m, k) = y.shape();
    if m == 0 {
        return None;
    }
    let mut s = T::zero();
    for i in 0..m {
        for c in 0..k {
            let d = y[(i, c)].clone() - &g.mean[(i, c)];
            s += d.clone() * &d;
        }
        s += T::from_u64(k as u64) * &g.cov[(i, i)];
    }
    Some(s / (T::from_u64(2 * (m * k) as u64)))
}

/// How far an exact value may pass one of its proven bounds and still count as
/// rounding, and how far the quadrature's ∫ p may be from 1: ε^{3/4}·(1 + ln P) for
/// P points at the working precision (about 1.8e-12·(1 + ln P) in `f64`, 2.6e-29·(1 + ln P)
/// at 128 bits). The quadrature and the bounds are both accurate to a few hundred ε in
/// the tests; a failure to resolve the mixture is far larger.
pub fn consistency_margin<T: Real>(n_points: usize) -> T {
    (T::epsilon().ln() * T::from_f64(0.75)).exp()
        * (T::one() + T::from_u64(n_points.max(1) as u64).ln())
}

/// The exact values of one row after [`check_exact`]: each the value, or why it was
/// rejected.
#[derive(Clone, Debug)]
pub struct CheckedExact<T: Real> {
    /// I(X;Z), or the violated bound.
    pub i_xz: std::result::Result<T, String>,
    /// I(Z;Y) when labels were given, or the violated bound.
    pub i_zy: Option<std::result::Result<T, String>>,
}

/// The first bound in `lower` (value ≥ bound) or `upper` (value ≤ bound) that `value`
/// misses by more than `margin`, said as "is below i_xz_lower = … by …".
fn violation<T: Real>(
    value: &T,
    lower: &[(&str, &T)],
    upper: &[(&str, &T)],
    margin: &T,
) -> Option<String> {
    if value.is_nan() {
        return Some("is not a number".into());
    }
    for (name, b) in lower {
        if *value < (*b).clone() - margin {
            let by = (*b).clone() - value;
            return Some(format!(
                "is below its proven lower bound {name} = {} by {}",
                super::decimal(*b),
                super::decimal(&by)
            ));
        }
    }
    for (name, b) in upper {
        if *value > (*b).clone() + margin {
            let by = value.clone() - *b;
            return Some(format!(
                "is above its proven upper bound {name} = {} by {}",
                super::decimal(*b),
                super::decimal(&by)
            ));
        }
    }
    None
}

/// Checks the quadrature's exact values against what is proven about them, each
/// within [`consistency_margin`]: the quadrature's ∫ p = 1; the Kolchinsky-Tracey
/// bounds \[KT17\] i_xz_lower ≤ I(X;Z) ≤ i_xz_upper and 0 ≤ I(X;Z) ≤ ln P = `ln_m`;
/// i_zy_lower ≤ I(Z;Y) ≤ i_zy_upper, 0 ≤ I(Z;Y) ≤ H(Y) and I(Z;Y) ≤ I(X;Z) (data
/// processing: Y is a function of X). A value that misses one is replaced by the reason.
pub fn check_exact<T: Real>(
    exact: &Exact1d<T>,
    bounds: &PairwiseBounds<T>,
    ln_m: &T,
    n_points: usize,
) -> CheckedExact<T> {
    let margin = consistency_margin::<T>(n_points);
    let zero = T::zero();
    let mass_off = (exact.mass.clone() - T::one()).abs();
    // NaN counts as off.
    let mass_issue = matches!(
        mass_off.partial_cmp(&margin),
        None | Some(std::cmp::Ordering::Greater)
    )
    .then(|| {
        format!(
            "is not reliable: the quadrature's integral of p(z) is {}, not 1",
            super::decimal(&exact.mass)
        )
    });
    let i_xz = match mass_issue.clone().or_else(|| {
        violation(
            &exact.i_xz,
            &[("0", &zero), ("i_xz_lower", &bounds.i_xz.lower)],
            &[("ln_m", ln_m), ("i_xz_upper", &bounds.i_xz.upper)],
            &margin,
        )
    }) {
        None => Ok(exact.i_xz.clone()),
        Some(why) => Err(why),
    };
    let i_zy = match (&exact.i_zy, &bounds.i_zy, &bounds.h_y) {
        (Some(v), Some(zb), Some(h_y)) => {
            let mut upper = vec![("H(Y)", h_y), ("i_zy_upper", &zb.upper)];
            if let Ok(x) = &i_xz {
                upper.push(("i_xz_exact", x));
            }
            Some(
                match mass_issue.or_else(|| {
                    violation(
                        v,
                        &[("0", &zero), ("i_zy_lower", &zb.lower)],
                        &upper,
                        &margin,
                    )
                }) {
                    None => Ok(v.clone()),
                    Some(why) => Err(why),
                },
            )
        }
        (Some(_), _, _) => Some(Err("has no bounds to check it against".into())),
        _ => None,
    };
    CheckedExact { i_xz, i_zy }
}

impl<T: Real> InfoRow<T> {
    /// The optional cells with their `info.csv` column names.
    fn cells_mut(&mut self) -> Vec<(&'static str, &mut Option<T>)> {
        vec![
            ("i_xz_lower", &mut self.i_xz_lower),
            ("i_xz_upper", &mut self.i_xz_upper),
            ("i_xz_exact", &mut self.i_xz_exact),
            ("kl_posterior_prior", &mut self.kl_posterior_prior),
            ("gibbs_loglik", &mut self.gibbs_loglik),
            ("bayes_loglik", &mut self.bayes_loglik),
            ("trace_ntk", &mut self.trace_ntk),
            ("i_zy_lower", &mut self.i_zy_lower),
            ("i_zy_upper", &mut self.i_zy_upper),
            ("i_zy_exact", &mut self.i_zy_exact),
            (
                "kl_posterior_prior_train",
                &mut self.kl_posterior_prior_train,
            ),
            ("gibbs_loglik_train", &mut self.gibbs_loglik_train),
            ("bayes_loglik_train", &mut self.bayes_loglik_train),
            ("loss_train", &mut self.loss_train),
            ("loss_test", &mut self.loss_test),
            ("param_distance_sq", &mut self.weights.param_distance_sq),
            ("param_distance_code", &mut self.weights.param_distance_code),
            ("i_theta_d_code", &mut self.weights.i_theta_d_code),
        ]
    }
}

/// Runs a study: the kernels of `net` over the training and test inputs, the ensemble in
/// each regime at each time, and the information rows.
///
/// Numerical trouble is reported, never printed as a number: a value that is not
/// finite at the working precision (an overflow) becomes an empty cell with a warning
/// naming the quantities and times; an exact value outside its proven range
/// ([`check_exact`]) becomes an empty cell with a warning naming the row, the bound and
/// the precision to try.
///
/// # Errors
/// [`Error::InvalidParameter`] for shapes that do not fit, an empty time list, a
/// negative or non-finite noise variance, or invalid training settings (including a
/// regulariser that overflows); [`Error::Overflow`] for kernels that overflow at the
/// working precision.
pub fn run_study<T: Real>(
    net: &FcNetwork<T>,
    x_train: &DMatrix<T>,
    y_train: &DMatrix<T>,
    x_test: &DMatrix<T>,
    y_test: &DMatrix<T>,
    config: &StudyConfig<T>,
) -> Result<Study<T>> {
    if config.times.is_empty() {
        return Err(Error::parameter("--times", "no times", "at least one time"));
    }
    for v in &config.noise_vars {
        if !v.is_finite() || *v < T::zero() {
            return Err(Error::parameter(
                "--noise-var",
                v.to_decimal(),
                "finite variances >= 0",
            ));
        }
    }
    if y_test.nrows() != x_test.nrows() || (y_test.ncols() != y_train.ncols() && x_test.nrows() > 0)
    {
        return Err(Error::parameter(
            "y_test",
            format!("{} x {}", y_test.nrows(), y_test.ncols()),
            format!("{} rows and {} columns", x_test.nrows(), y_train.ncols()),
        ));
    }
    let kernels = Kernels::new(net, x_train, x_test)?;
    let (m, k) = (x_test.nrows(), y_train.ncols());
    let trace_ntk = kernels.trace_ntk_train();
    let mut warnings = Vec::new();
    let mut gaps = Gaps::default();
    let mut predictions = Vec::new();
    let mut info = Vec::new();
    let mut diag_reg_effective = Vec::new();
    // The points X ranges over, and their labels.
    let (use_train, use_test) = match config.points {
        PointSet::All => (true, true),
        PointSet::Train => (true, false),
        PointSet::Test => (false, true),
    };
    let mut y_pts = DMatrix::zeros(0, k);
    if use_train {
        y_pts = y_train.clone();
    }
    if use_test && m > 0 {
        let mut both = DMatrix::zeros(y_pts.nrows() + m, k);
        both.rows_mut(0, y_pts.nrows()).copy_from(&y_pts);
        both.rows_mut(y_pts.nrows(), m).copy_from(y_test);
        y_pts = both;
    }
    let (labels, _) = label_groups(&y_pts);
    let n_pts = y_pts.nrows();
    if n_pts == 0 {
        return Err(Error::parameter(
            "--points",
            config.points.name(),
            "a set with at least one point (there are no test points)",
        ));
    }
    // ln P, the largest I(X;Z) (X uniform over the P points), in every row.
    let ln_m = T::from_u64(n_pts as u64).ln();
    let exact_ok = k == 1 && n_pts <= config.exact_max_points;
    if k == 1 && !exact_ok {
        warn(
            &mut warnings,
            format!(
                "i_xz_exact and i_zy_exact are left empty: {n_pts} points is more than the quadrature limit of {}",
                config.exact_max_points
            ),
        );
    }
    for &regime in &config.regimes {
        let ens = Ensemble::new(&kernels, y_train, regime, &config.training)?;
        for w in ens.warnings() {
            warn(&mut warnings, w.clone());
        }
        diag_reg_effective.push((regime, ens.diag_reg_effective().clone()));
        let zero = Time::At(T::zero());
        let prior_test = ens.test(&zero);
        let prior_train = ens.train(&zero);
        for t in &config.times {
            let tr = ens.train(t);
            let te = ens.test(t);
            for (split, g) in [(Split::Train, &tr), (Split::Test, &te)] {
                for i in 0..g.mean.nrows() {
                    predictions.push(PredictionRow {
                        t: t.clone(),
                        regime,
                        split,
                        index: i,
                        mean: g.mean.row(i).iter().cloned().collect(),
                        var: g.cov[(i, i)].clone(),
                    });
                }
            }
            let tt = t.to_text();
            let name = regime.name();
            let not_finite = |g: &Gaussian<T>| {
                (0..g.mean.nrows())
                    .filter(|&i| {
                        !g.cov[(i, i)].is_finite() || g.mean.row(i).iter().any(|x| !x.is_finite())
                    })
                    .count()
            };
            let bad = not_finite(&tr) + not_finite(&te);
            if bad > 0 {
                gaps.note(
                    format!("{name}: the mean or variance of some points in predictions.csv"),
                    &format!(
                        "not finite in {} (an overflow, or an undefined prediction warned about above); the cells are empty. Reduce the scale of the targets or inputs, or {}",
                        super::precision_name::<T>(),
                        super::higher_precision::<T>()
                    ),
                    tt.clone(),
                );
            }
            // KL(posterior ‖ prior) of one split, or an empty cell with a note.
            let kl_or_note = |gaps: &mut Gaps,
                              g: &Gaussian<T>,
                              prior: &Gaussian<T>,
                              column: &str,
                              split: &str| {
                let v = kl_gaussians(&g.mean, &g.cov, &prior.mean, &prior.cov);
                if v.is_none() {
                    gaps.note(format!("{name}: {column}"), &format!("the {split} covariance (or the prior's) is singular to the working precision (a squared Cholesky pivot below sqrt(epsilon) times the largest variance, or not positive definite): a singular posterior has KL = +inf, and a nearly singular one a KL set by rounding"), tt.clone());
                }
                v
            };
            let kl_test = if m > 0 {
                kl_or_note(&mut gaps, &te, &prior_test, "kl_posterior_prior", "test")
            } else {
                None
            };
            let kl_train = kl_or_note(
                &mut gaps,
                &tr,
                &prior_train,
                "kl_posterior_prior_train",
                "training",
            );
            let (gibbs, bayes) = if m > 0 {
                (
                    Some(gibbs_loglik(y_test, &te.mean, &te.cov)),
                    bayes_loglik(y_test, &te.mean, &te.cov),
                )
            } else {
                (None, None)
            };
            let gibbs_train = Some(gibbs_loglik(y_train, &tr.mean, &tr.cov));
            let bayes_train = bayes_loglik(y_train, &tr.mean, &tr.cov);
            let weights = ens.weight_information(t);
            let loss_train = expected_loss(y_train, &tr);
            let loss_test = expected_loss(y_test, &te);
            // Means and raw variances of the points X ranges over.
            let mut means = DMatrix::zeros(n_pts, k);
            let mut raw = Vec::with_capacity(n_pts);
            let mut row = 0;
            let mut take = |g: &Gaussian<T>, means: &mut DMatrix<T>| {
                for i in 0..g.mean.nrows() {
                    means.row_mut(row).copy_from(&g.mean.row(i));
                    raw.push(g.cov[(i, i)].clone().max_of(T::zero()));
                    row += 1;
                }
            };
            if use_train {
                take(&tr, &mut means);
            }
            if use_test {
                take(&te, &mut means);
            }
            for noise in &config.noise_vars {
                let vars: Vec<T> = raw.iter().map(|v| v.clone() + noise).collect();
                let nv = super::decimal(noise);
                let finite =
                    vars.iter().all(|v| v.is_finite()) && means.iter().all(|m| m.is_finite());
                let bounds = if finite {
                    pairwise_bounds(&means, &vars, Some(&labels))
                } else {
                    None
                };
                if !finite {
                    gaps.note(
                        format!("{name}: i_xz_* and i_zy_* with noise_var = {nv}"),
                        &format!(
                            "the ensemble's mean or variance is not finite at some point (an overflow in {}, or an undefined prediction warned about above)",
                            super::precision_name::<T>()
                        ),
                        tt.clone(),
                    );
                } else if bounds.is_none() {
                    gaps.note(format!("{name}: i_xz_* and i_zy_* with noise_var = {nv}"), "some point has zero variance (a point mass: I(X;Z) is infinite or undefined); use --noise-var > 0", tt.clone());
                }
                let (mut i_xz_exact, mut i_zy_exact) = (None, None);
                if let (true, Some(b)) = (exact_ok, &bounds) {
                    let mcol: Vec<T> = means.column(0).iter().cloned().collect();
                    match exact_information_1d(&mcol, &vars, Some(&labels)) {
                        None => gaps.note(
                            format!("{name}: i_xz_exact and i_zy_exact with noise_var = {nv}"),
                            "the quadrature's mesh (each mean +- 40 standard deviations) overflows",
                            tt.clone(),
                        ),
                        Some(e) => {
                            let checked = check_exact(&e, b, &ln_m, n_pts);
                            let row = format!("{name}: at t = {tt}, noise_var = {nv}");
                            let advice = format!(
                                "the quadrature in {} did not resolve this mixture, so the cell is left empty; {}",
                                super::precision_name::<T>(),
                                super::higher_precision::<T>()
                            );
                            match checked.i_xz {
                                Ok(v) => i_xz_exact = Some(v),
                                Err(why) => warn(
                                    &mut warnings,
                                    format!(
                                        "{row}, i_xz_exact = {} {why}: {advice}",
                                        super::decimal(&e.i_xz)
                                    ),
                                ),
                            }
                            match checked.i_zy {
                                Some(Ok(v)) => i_zy_exact = Some(v),
                                Some(Err(why)) => warn(
                                    &mut warnings,
                                    format!(
                                        "{row}, i_zy_exact = {} {why}: {advice}",
                                        e.i_zy.as_ref().map(super::decimal).unwrap_or_default()
                                    ),
                                ),
                                None => {}
                            }
                        }
                    }
                }
                let mut row = InfoRow {
                    t: t.clone(),
                    regime,
                    noise_var: noise.clone(),
                    i_xz_lower: bounds.as_ref().map(|b| b.i_xz.lower.clone()),
                    i_xz_upper: bounds.as_ref().map(|b| b.i_xz.upper.clone()),
                    i_xz_exact,
                    kl_posterior_prior: kl_test.clone(),
                    gibbs_loglik: gibbs.clone(),
                    bayes_loglik: bayes.clone(),
                    trace_ntk: Some(trace_ntk.clone()),
                    i_zy_lower: bounds
                        .as_ref()
                        .and_then(|b| b.i_zy.as_ref().map(|z| z.lower.clone())),
                    i_zy_upper: bounds
                        .as_ref()
                        .and_then(|b| b.i_zy.as_ref().map(|z| z.upper.clone())),
                    i_zy_exact,
                    kl_posterior_prior_train: kl_train.clone(),
                    gibbs_loglik_train: gibbs_train.clone(),
                    bayes_loglik_train: bayes_train.clone(),
                    loss_train: loss_train.clone(),
                    loss_test: loss_test.clone(),
                    weights: weights.clone(),
                    ln_m: ln_m.clone(),
                };
                for (column, cell) in row.cells_mut() {
                    if cell.as_ref().is_some_and(|v| !v.is_finite()) {
                        gaps.note(
                            format!("{name}: {column}"),
                            &format!(
                                "not finite in {} (inf or NaN): the computation overflowed (or an undefined prediction warned about above entered it); reduce the scale of the targets or inputs or --w-std/--b-std, or {}",
                                super::precision_name::<T>(),
                                super::higher_precision::<T>()
                            ),
                            tt.clone(),
                        );
                        *cell = None;
                    }
                }
                info.push(row);
            }
            if config.noise_vars.is_empty() {
                warn(
                    &mut warnings,
                    "no noise variance given: info rows are not written".into(),
                );
            }
        }
    }
    let n_times = {
        let mut texts: Vec<String> = config.times.iter().map(Time::to_text).collect();
        texts.sort_unstable();
        texts.dedup();
        texts.len()
    };
    gaps.into_warnings(&mut warnings, n_times);
    Ok(Study {
        kernels,
        predictions,
        info,
        diag_reg_effective,
        warnings,
        n_outputs: k,
    })
}

#[cfg(test)]
mod tests {
    use super::times_phrase;

    #[test]
    fn times_are_said_in_full_or_by_count_and_ends() {
        let times = |n: usize| -> Vec<String> { (1..=n).map(|i| i.to_string()).collect() };
        assert_eq!(times_phrase(&times(2), 10), "t = 1, 2");
        assert_eq!(times_phrase(&times(8), 10), "t = 1, 2, 3, 4, 5, 6, 7, 8");
        assert_eq!(
            times_phrase(&times(312), 1001),
            "312 of 1001 times (t = 1, 2, 3, ..., 310, 311, 312)"
        );
        assert_eq!(
            times_phrase(&times(9), 9),
            "all 9 times (t = 1, 2, 3, ..., 7, 8, 9)"
        );
    }
}
