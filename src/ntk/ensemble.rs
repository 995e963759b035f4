//! The output distribution of an infinite ensemble of infinitely wide networks trained by
//! gradient flow on the MSE loss: a Gaussian with closed-form mean and covariance at
//! every training time t, on the training and on the test points \[Lee19\], with the
//! conventions of neural-tangents' `gradient_descent_mse_ensemble` \[NT20\] (spec
//! ntk-math C, verified against neural-tangents 0.6.5).
//!
//! # Time and loss
//! Gradient flow on L(θ) = (1/(2n)) Σ_{i,c} (f_c(x_i) − Y_ic)², n = N·k (the number of
//! training targets), with learning rate η: the exponent is e^{−τ G/n}, τ = η t.
//! G is the regime's kernel: Θ for `Regime::Ntk` (all layers trained), K for
//! `Regime::Nngp` (read-out layer only).
//!
//! # Formulas (X: N training inputs, Y: N × k targets, X*: test inputs)
//! With G_dd = V diag(λ) Vᵀ (after the diagonal regulariser), λ⁺ = max(λ, 0),
//! A_τ = I − e^{−τG_dd/n} = V diag(−expm1(−λ⁺τ/n)) Vᵀ and
//! G_dd⁻¹A_τ = V diag(g) Vᵀ with g = −expm1(−λ⁺τ/n)/|λ| (g = τ/n where λ = 0, the limit):
//!
//! * train mean μ_t(X) = A_τ Y;
//!   NTK covariance e^{−τΘ/n} K_XX e^{−τΘ/n}; NNGP covariance V diag(λ⁺e^{−2λ⁺τ/n}) Vᵀ.
//! * test, NTK: μ_t(X*) = Θ_*X G⁻¹A_τ Y;
//!   Σ_t = K_** + P ᵀK_XX P − (Pᵀ K_X* + K_*X P), P = G⁻¹A_τ Θ_X*.
//! * test, NNGP: μ_t(X*) = K_*X G⁻¹A_τ Y; Σ_t = K_** − K_*X V diag(g₂) Vᵀ K_X*,
//!   g₂ = −expm1(−2λ⁺τ/n)/|λ|.
//! * t = ∞ (Cholesky of G_dd, no eigenvalues): test mean G_*X G⁻¹Y, NTK covariance
//!   K_** + PᵀK_XX P − (PᵀK_X* + K_*X P) with P = Θ⁻¹Θ_X*, NNGP covariance
//!   K_** − K_*X K⁻¹K_X*; train N(Y, 0) whatever the regulariser.
//! * t = 0: mean 0 and covariance K (the NNGP prior) on every split (with a diagonal
//!   regulariser the NNGP train covariance at t = 0 is K_XX + ε'I, as in neural-tangents).
//!
//! # Diagonal regulariser (spec C.5)
//! G_dd ← G_dd + ε'I with ε' = ε·tr(G_dd)/N (relative, the default) or ε' = ε
//! (absolute). Only the regime's train-train kernel is regularised, in the
//! eigendecomposition (every finite t, both splits) and in the t = ∞ Cholesky; K_XX in
//! the NTK covariance, K_X* and K_** never are.
//!
//! Multi-output: the kernels are G ⊗ I_k; every output channel has the same covariance.

use std::sync::OnceLock;

use nalgebra::DMatrix;

use super::kernel::{Kernels, Kind};
use super::linalg::{matmul, matmul_tn, symmetrize, trace, Cholesky, SymmetricEigen};
use crate::error::{Error, Result};
use crate::scalar::Real;

/// Which kernel drives the dynamics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Regime {
    /// All layers trained: G = Θ (neural-tangents `get='ntk'`).
    Ntk,
    /// Only the read-out layer trained: G = K (`get='nngp'`); at t = ∞ this is exact
    /// noise-free GP regression with the NNGP kernel.
    Nngp,
}

impl Regime {
    /// `ntk` or `nngp`.
    pub fn name(self) -> &'static str {
        match self {
            Regime::Ntk => "ntk",
            Regime::Nngp => "nngp",
        }
    }

    fn kind(self) -> Kind {
        match self {
            Regime::Ntk => Kind::Ntk,
            Regime::Nngp => Kind::Nngp,
        }
    }
}

/// A training time: finite t ≥ 0, or t = ∞ (the end of gradient flow).
#[derive(Clone, Debug, PartialEq)]
pub enum Time<T: Real> {
    /// A finite time t ≥ 0 (in units where the learning rate multiplies it: τ = η t).
    At(T),
    /// t → ∞.
    Infinity,
}

impl<T: Real> Time<T> {
    /// Parses a decimal number ≥ 0, or `inf` / `infinity`.
    ///
    /// # Errors
    /// A message for non-numbers, negative or NaN times, and numbers beyond the range of
    /// the precision (1e400 in `f64`; only the words mean t = ∞).
    pub fn parse(s: &str) -> std::result::Result<Self, String> {
        let t = s.trim();
        match t.to_ascii_lowercase().as_str() {
            "inf" | "infinity" | "+inf" => return Ok(Time::Infinity),
            _ => {}
        }
        let v = T::parse(t).map_err(|_| format!("`{t}` is not a time (a number >= 0 or inf)"))?;
        if v.is_nan() || v < T::zero() {
            return Err(format!("`{t}` is not a time (a number >= 0 or inf)"));
        }
        if !v.is_finite() {
            // A number too large for the precision (1e400 in f64) is not t = ∞: only the
            // words above are.
            return Err(format!(
                "`{t}`, beyond the range of the working precision (write inf for t = ∞)"
            ));
        }
        Ok(Time::At(v))
    }

    /// The time as an `f64` (`inf` for t = ∞).
    pub fn to_f64(&self) -> f64 {
        match self {
            Time::At(t) => t.to_f64(),
            Time::Infinity => f64::INFINITY,
        }
    }

    /// A decimal string: the shortest round-trip form for `f64`, the working precision's
    /// digits above it, `inf` for t = ∞.
    pub fn to_text(&self) -> String {
        match self {
            Time::At(t) => super::decimal(t),
            Time::Infinity => "inf".into(),
        }
    }
}

/// How the ensemble is trained.
#[derive(Clone, Debug)]
pub struct Training<T: Real> {
    /// η: τ = η t.
    pub learning_rate: T,
    /// ε of the diagonal regulariser (0: none).
    pub diag_reg: T,
    /// ε' = ε (true) or ε' = ε·tr(G_dd)/N (false, neural-tangents' default).
    pub diag_reg_absolute: bool,
}

impl<T: Real> Default for Training<T> {
    fn default() -> Self {
        Training {
            learning_rate: T::one(),
            diag_reg: T::zero(),
            diag_reg_absolute: false,
        }
    }
}

/// A Gaussian over a set of points, shared by the k output channels: mean (points × k)
/// and covariance (points × points).
#[derive(Clone, Debug)]
pub struct Gaussian<T: Real> {
    /// μ, one row per point, one column per output channel.
    pub mean: DMatrix<T>,
    /// Σ (symmetric), the same for every channel.
    pub cov: DMatrix<T>,
}

/// The infinite ensemble for one regime: everything that does not depend on t is
/// computed once (eigendecomposition, Cholesky, projections), so each time costs a few
/// matrix products.
#[derive(Debug)]
pub struct Ensemble<T: Real> {
    regime: Regime,
    n_norm: T,
    eta: T,
    eps_eff: T,
    y: DMatrix<T>,
    k_dd: DMatrix<T>,
    g_td: DMatrix<T>,
    k_td: DMatrix<T>,
    k_tt: DMatrix<T>,
    trace_g: T,
    eig: SymmetricEigen<T>,
    vt_y: DMatrix<T>,
    vt_gx: DMatrix<T>,
    chol: Option<Cholesky<T>>,
    c_k: OnceLock<DMatrix<T>>,
    warnings: Vec<String>,
}

impl<T: Real> Ensemble<T> {
    /// Sets up the ensemble of `regime` trained on the first `kernels.n_train` points with
    /// targets `y_train` (N × k).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a target matrix of the wrong shape, no training
    /// point, a negative or non-finite regulariser or a non-positive learning rate.
    pub fn new(
        kernels: &Kernels<T>,
        y_train: &DMatrix<T>,
        regime: Regime,
        training: &Training<T>,
    ) -> Result<Self> {
        let n = kernels.n_train;
        if n == 0 {
            return Err(Error::parameter(
                "training set",
                "no points",
                "at least one training point",
            ));
        }
        if y_train.nrows() != n || y_train.ncols() == 0 {
            return Err(Error::parameter(
                "y_train",
                format!("{} x {}", y_train.nrows(), y_train.ncols()),
                format!("{n} rows (one per training point) and at least one column"),
            ));
        }
        if !training.diag_reg.is_finite() || training.diag_reg < T::zero() {
            return Err(Error::parameter(
                "--diag-reg",
                training.diag_reg.to_decimal(),
                "a finite number >= 0",
            ));
        }
        if !training.learning_rate.is_finite()
            || training.learning_rate.partial_cmp(&T::zero()) != Some(std::cmp::Ordering::Greater)
        {
            return Err(Error::parameter(
                "--learning-rate",
                training.learning_rate.to_decimal(),
                "a finite number > 0",
            ));
        }
        let kind = regime.kind();
        let g_raw = symmetrize(&kernels.train_train(kind));
        let trace_g = trace(&g_raw);
        let eps_eff = if training.diag_reg_absolute {
            training.diag_reg.clone()
        } else {
            training.diag_reg.clone() * &trace_g / T::from_u64(n as u64)
        };
        if !eps_eff.is_finite() {
            return Err(Error::parameter(
                "--diag-reg",
                training.diag_reg.to_decimal(),
                format!(
                    "a regulariser whose effective value on the diagonal is finite at {} bits (here {} = {}; the trace of the training kernel is {})",
                    T::PRECISION_BITS,
                    if training.diag_reg_absolute { "eps'" } else { "eps' = eps*tr(G)/N" },
                    eps_eff.to_decimal(),
                    trace_g.to_decimal()
                ),
            ));
        }
        let mut g = g_raw;
        if !eps_eff.is_zero() {
            for i in 0..n {
                g[(i, i)] += &eps_eff;
            }
        }
        let mut warnings = Vec::new();
        let eig = SymmetricEigen::new(&g);
        if !eig.converged {
            let reason = match g.iter().enumerate().find(|(_, x)| !x.is_finite()) {
                Some((at, x)) => format!(
                    "the regularised training kernel has a non-finite entry ({}, {}) = {}: it overflowed in {}; reduce --w-std/--b-std, the input scale or --diag-reg, or {}",
                    at % n + 1,
                    at / n + 1,
                    super::decimal(x),
                    super::precision_name::<T>(),
                    super::higher_precision::<T>()
                ),
                None => "the kernel is finite; the QL iteration needed more than 60 sweeps".into(),
            };
            warnings.push(format!(
                "{}: the eigen-decomposition of the training kernel did not converge ({reason})",
                regime.name()
            ));
        }
        let lam_max = eig.values.iter().fold(T::zero(), |a, b| a.max_of(b.abs()));
        let tiny = lam_max * T::from_u64(n as u64) * T::epsilon();
        let small = eig.values.iter().filter(|l| **l <= tiny).count();
        if small > 0 {
            warnings.push(format!(
                "{}: the training kernel G_dd is singular to working precision ({small} of {n} eigenvalues <= n*eps*max|lambda|); predictions along those directions are not determined by the data (consider --diag-reg)",
                regime.name()
            ));
        }
        let chol = Cholesky::with_jitter(&g);
        match &chol {
            None => warnings.push(format!(
                "{}: the training kernel is not positive definite even with jitter; t = inf test predictions are undefined",
                regime.name()
            )),
            Some(c) => {
                if let Some(j) = c.jitter() {
                    warnings.push(format!(
                        "{}: the t = inf Cholesky of the training kernel needed a jitter of {:.3e} on the diagonal",
                        regime.name(),
                        j.to_f64()
                    ));
                }
            }
        }
        let v = &eig.vectors;
        let vt_y = matmul_tn(v, y_train);
        let g_td = kernels.test_train(kind);
        let vt_gx = matmul_tn(v, &g_td.transpose());
        Ok(Ensemble {
            regime,
            n_norm: T::from_u64((n * y_train.ncols()) as u64),
            eta: training.learning_rate.clone(),
            eps_eff,
            y: y_train.clone(),
            k_dd: symmetrize(&kernels.train_train(Kind::Nngp)),
            g_td,
            k_td: kernels.test_train(Kind::Nngp),
            k_tt: kernels.test_test(Kind::Nngp),
            trace_g,
            eig,
            vt_y,
            vt_gx,
            chol,
            c_k: OnceLock::new(),
            warnings,
        })
    }

    /// The regime.
    pub fn regime(&self) -> Regime {
        self.regime
    }

    /// The absolute regulariser ε' added to the diagonal of G_dd.
    pub fn diag_reg_effective(&self) -> &T {
        &self.eps_eff
    }

    /// The eigenvalues λ of the (regularised) training kernel G_dd, increasing.
    pub fn eigenvalues(&self) -> &[T] {
        &self.eig.values
    }

    /// Numerical trouble met while setting up (singular kernel, jitter, non-convergence).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The normalisation n = N·k of the loss.
    pub fn n_targets(&self) -> &T {
        &self.n_norm
    }

    /// Per eigenvalue: (a, g, e) with a = 1 − e^{−λ⁺τ/n}, g = a/|λ| (τ/n for λ = 0),
    /// e = e^{−λ⁺τ/n}, for the doubling `factor` (1, or 2 for g₂).
    fn spectral(&self, t: &T, factor: f64) -> Vec<(T, T, T)> {
        let tau_n = self.eta.clone() * t * T::from_f64(factor) / &self.n_norm;
        self.eig
            .values
            .iter()
            .map(|lam| {
                let lp = lam.clone().max_of(T::zero());
                let x = -(lp * &tau_n);
                let a = -x.exp_m1();
                let e = x.exp();
                let g = if lam.is_zero() {
                    tau_n.clone()
                } else {
                    a.clone() / lam.abs()
                };
                (a, g, e)
            })
            .collect()
    }

    /// V·diag(w)·M for M = Vᵀ B given.
    fn v_scaled(&self, w: &[T], vt_b: &DMatrix<T>) -> DMatrix<T> {
        let mut scaled = vt_b.clone();
        for (i, wi) in w.iter().enumerate() {
            for c in 0..scaled.ncols() {
                scaled[(i, c)] *= wi;
            }
        }
        matmul(&self.eig.vectors, &scaled)
    }

    /// Vᵀ K_XX V, computed on first use (the NTK train covariance and the weight terms).
    fn c_k(&self) -> &DMatrix<T> {
        self.c_k.get_or_init(|| {
            let v = &self.eig.vectors;
            symmetrize(&matmul_tn(v, &matmul(&self.k_dd, v)))
        })
    }

    /// The ensemble on the training inputs at time `t`.
    pub fn train(&self, t: &Time<T>) -> Gaussian<T> {
        let n = self.y.nrows();
        let t = match t {
            Time::Infinity => {
                return Gaussian {
                    mean: self.y.clone(),
                    cov: DMatrix::zeros(n, n),
                }
            }
            Time::At(t) => t,
        };
        let sp = self.spectral(t, 1.0);
        let a: Vec<T> = sp.iter().map(|s| s.0.clone()).collect();
        let mean = self.v_scaled(&a, &self.vt_y);
        let v = &self.eig.vectors;
        let cov = match self.regime {
            Regime::Ntk => {
                // e^{−τΘ/n} K e^{−τΘ/n} = (V E)(Vᵀ K V)(V E)ᵀ.
                let mut ve = v.clone();
                for (j, s) in sp.iter().enumerate() {
                    ve.column_mut(j).iter_mut().for_each(|x| *x *= &s.2);
                }
                let inner = matmul(&ve, self.c_k());
                symmetrize(&matmul(&inner, &ve.transpose()))
            }
            Regime::Nngp => {
                let mut vd = v.clone();
                for (j, (lam, s)) in self.eig.values.iter().zip(&sp).enumerate() {
                    let lp = lam.clone().max_of(T::zero());
                    let w = lp * &s.2 * &s.2;
                    vd.column_mut(j).iter_mut().for_each(|x| *x *= &w);
                }
                symmetrize(&matmul(&vd, &v.transpose()))
            }
        };
        Gaussian { mean, cov }
    }

    /// The ensemble on the test inputs at time `t`.
    ///
    /// At t = ∞ without a usable Cholesky factor (see [`Ensemble::warnings`]) the result
    /// is NaN.
    pub fn test(&self, t: &Time<T>) -> Gaussian<T> {
        let m = self.g_td.nrows();
        let k = self.y.ncols();
        if m == 0 {
            return Gaussian {
                mean: DMatrix::zeros(0, k),
                cov: DMatrix::zeros(0, 0),
            };
        }
        let (p_mean, p_cov) = match t {
            Time::At(t) => {
                let sp = self.spectral(t, 1.0);
                let g: Vec<T> = sp.iter().map(|s| s.1.clone()).collect();
                let alpha = self.v_scaled(&g, &self.vt_y);
                let p = match self.regime {
                    Regime::Ntk => self.v_scaled(&g, &self.vt_gx),
                    Regime::Nngp => {
                        let g2: Vec<T> = self.spectral(t, 2.0).into_iter().map(|s| s.1).collect();
                        self.v_scaled(&g2, &self.vt_gx)
                    }
                };
                (alpha, p)
            }
            Time::Infinity => match &self.chol {
                Some(c) => (c.solve(&self.y), c.solve(&self.g_td.transpose())),
                None => {
                    let nan = T::zero() / T::zero();
                    return Gaussian {
                        mean: DMatrix::from_element(m, k, nan.clone()),
                        cov: DMatrix::from_element(m, m, nan),
                    };
                }
            },
        };
        let mean = matmul(&self.g_td, &p_mean);
        let cov = match self.regime {
            Regime::Ntk => {
                // K_** + Pᵀ K P − (Pᵀ K_X* + K_*X P)
                let kp = matmul(&self.k_dd, &p_cov);
                let quad = matmul_tn(&p_cov, &kp);
                let cross = matmul(&self.k_td, &p_cov);
                let mut s = self.k_tt.clone() + quad;
                s -= &cross;
                s -= cross.transpose();
                symmetrize(&s)
            }
            Regime::Nngp => symmetrize(&(self.k_tt.clone() - matmul(&self.g_td, &p_cov))),
        };
        Gaussian { mean, cov }
    }

    /// The weight-space quantities of spec ntk-math A.2 at time `t` (see [`WeightInfo`]).
    pub fn weight_information(&self, t: &Time<T>) -> WeightInfo<T> {
        let c = self.c_k();
        let kch = self.y.ncols();
        let kch_t = T::from_u64(kch as u64);
        // Per eigen-direction j: q_j = g_j a_j (the spectrum of G⁻¹A²), h_j (Q6 as coded).
        let (q, h, tau): (Vec<Option<T>>, Vec<T>, Option<T>) = match t {
            Time::At(t) => {
                let sp = self.spectral(t, 1.0);
                let sp2 = self.spectral(t, 2.0);
                let q = sp.iter().map(|s| Some(s.1.clone() * &s.0)).collect();
                let h = self
                    .eig
                    .values
                    .iter()
                    .zip(&sp2)
                    .map(|(lam, s)| lam.clone().max_of(T::zero()) * &s.0)
                    .collect();
                (q, h, Some(self.eta.clone() * t))
            }
            Time::Infinity => {
                let q = self
                    .eig
                    .values
                    .iter()
                    .map(|lam| (*lam > T::zero()).then(|| T::one() / lam))
                    .collect();
                let h = self
                    .eig
                    .values
                    .iter()
                    .map(|lam| lam.clone().max_of(T::zero()))
                    .collect();
                (q, h, None)
            }
        };
        let mut tr_q = Some(T::zero());
        let mut y_q_sum = Some(T::zero());
        let mut tr_h = T::zero();
        let mut y_h_sum = T::zero();
        for j in 0..self.eig.values.len() {
            let yy = (0..kch).fold(T::zero(), |acc, ch| {
                acc + self.vt_y[(j, ch)].clone() * &self.vt_y[(j, ch)]
            });
            match &q[j] {
                Some(qj) => {
                    if let Some(s) = tr_q.as_mut() {
                        *s += qj.clone() * &c[(j, j)];
                    }
                    if let Some(s) = y_q_sum.as_mut() {
                        *s += qj.clone() * &yy;
                    }
                }
                None => {
                    tr_q = None;
                    y_q_sum = None;
                }
            }
            tr_h += h[j].clone() * &c[(j, j)];
            y_h_sum += h[j].clone() * &yy;
        }
        let half = T::from_f64(0.5);
        let param_distance_sq = match (&tr_q, &y_q_sum) {
            (Some(a), Some(b)) => Some(kch_t.clone() * a + b),
            _ => None,
        };
        let i_theta_d_code = match (&tr_q, &y_q_sum, &tau) {
            (Some(a), Some(b), Some(tau)) => {
                Some(-a.clone() - b.clone() / &kch_t + tau.clone() * &self.trace_g)
            }
            _ => None,
        };
        WeightInfo {
            param_distance_sq,
            param_distance_code: Some((tr_h + y_h_sum) * half),
            i_theta_d_code,
        }
    }
}

/// Weight-space quantities of the linearised network (spec ntk-math A.2, rows Q6, Q6′,
/// Q7), with G the regime's regularised training kernel (Θ for NTK, K for NNGP) and
/// A_τ = I − e^{−τG/n}. Nats where the quantity is an information.
#[derive(Clone, Debug)]
pub struct WeightInfo<T: Real> {
    /// Q6′ [derived in the spec from θ_t − θ_0 = −Jᵀ G⁻¹A_τ(f_0 − Y), J Jᵀ = G,
    /// f_0 ~ N(0, K)]: E‖θ_t − θ_0‖² = k·tr(K_dd G⁻¹A_τ²) + Σ_c Y_cᵀ G⁻¹A_τ² Y_c.
    /// At t = ∞, A = I. `None` when G is singular at t = ∞.
    pub param_distance_sq: Option<T>,
    /// Q6 as coded in the authors' repository (`parameter_distance`, \[SZA19\] code,
    /// unconfirmed as the paper's formula):
    /// ½[tr(K_dd V diag(λ(1 − e^{−2λτ/n})) Vᵀ) + Σ_c Y_cᵀ V diag(λ(1 − e^{−2λτ/n})) Vᵀ Y_c].
    /// Always `Some` from [`Ensemble::weight_information`]; the study empties it (with
    /// a warning) when it is not finite at the working precision.
    pub param_distance_code: Option<T>,
    /// Q7 as coded (`i_theta_data`, a lower bound on I(θ;D) per the authors' code,
    /// unconfirmed): −tr(K_dd G⁻¹A_τ²) − mean_c(Y_cᵀ G⁻¹A_τ² Y_c) + τ·tr G_dd
    /// (tr of the unregularised kernel). `None` at t = ∞ (the last term diverges).
    pub i_theta_d_code: Option<T>,
}
