//! One study: kernels, the ensemble in each regime at each time, and every information
//! quantity along t, as rows ready for output. This is what `ibex ntk` runs; the command
//! line only reads files and writes these rows.

use nalgebra::DMatrix;

use super::ensemble::{Ensemble, Gaussian, Regime, Time, Training, WeightInfo};
use super::gaussian::{
    bayes_loglik, exact_information_1d, gibbs_loglik, kl_gaussians, label_groups, pairwise_bounds,
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
/// nats; `None` where undefined (the reason is in the study's warnings).
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
    pub trace_ntk: T,
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
    pub loss_train: T,
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

    fn into_warnings(self, warnings: &mut Vec<String>) {
        for (what, reason, at) in self.0 {
            warn(
                warnings,
                format!("{what} is empty at t = {}: {reason}", at.join(", ")),
            );
        }
    }
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

/// Runs a study: the kernels of `net` over the training and test inputs, the ensemble in
/// each regime at each time, and the information rows.
///
/// # Errors
/// [`Error::InvalidParameter`] for shapes that do not fit, an empty time list, a
/// negative or non-finite noise variance, or invalid training settings.
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
            let kl_test = if m > 0 {
                let v = kl_gaussians(&te.mean, &te.cov, &prior_test.mean, &prior_test.cov);
                if v.is_none() {
                    gaps.note(format!("{name}: kl_posterior_prior"), "the test covariance (or the prior's) is not positive definite at the working precision (a singular posterior has KL = +inf)", tt.clone());
                }
                v
            } else {
                None
            };
            let kl_train = {
                let v = kl_gaussians(&tr.mean, &tr.cov, &prior_train.mean, &prior_train.cov);
                if v.is_none() {
                    gaps.note(format!("{name}: kl_posterior_prior_train"), "the training covariance (or the prior's) is not positive definite at the working precision (a singular posterior has KL = +inf)", tt.clone());
                }
                v
            };
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
            let loss_train = expected_loss(y_train, &tr).unwrap_or_else(T::zero);
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
                let bounds = pairwise_bounds(&means, &vars, Some(&labels));
                if bounds.is_none() {
                    gaps.note(format!("{name}: i_xz_* and i_zy_* with noise_var = {}", super::decimal(noise)), "some point has zero variance (a point mass: I(X;Z) is infinite or undefined); use --noise-var > 0", tt.clone());
                }
                let (i_xz_exact, i_zy_exact) = if exact_ok && bounds.is_some() {
                    let mcol: Vec<T> = means.column(0).iter().cloned().collect();
                    match exact_information_1d(&mcol, &vars, Some(&labels)) {
                        Some(e) => (Some(e.i_xz), e.i_zy),
                        None => (None, None),
                    }
                } else {
                    (None, None)
                };
                let ln_m = T::from_u64(n_pts as u64).ln();
                info.push(InfoRow {
                    t: t.clone(),
                    regime,
                    noise_var: noise.clone(),
                    i_xz_lower: bounds.as_ref().map(|b| b.i_xz.lower.clone()),
                    i_xz_upper: bounds.as_ref().map(|b| b.i_xz.upper.clone()),
                    i_xz_exact,
                    kl_posterior_prior: kl_test.clone(),
                    gibbs_loglik: gibbs.clone(),
                    bayes_loglik: bayes.clone(),
                    trace_ntk: trace_ntk.clone(),
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
                    ln_m,
                });
            }
            if config.noise_vars.is_empty() {
                warn(
                    &mut warnings,
                    "no noise variance given: info rows are not written".into(),
                );
            }
        }
    }
    gaps.into_warnings(&mut warnings);
    Ok(Study {
        kernels,
        predictions,
        info,
        diag_reg_effective,
        warnings,
    })
}
