//! # ibex: Information Bottleneck, EXact
//!
//! Exact information-bottleneck quantities on known discrete joint distributions, in
//! `f64` and in arbitrary precision (MPFR through `rug`), from one generic code path.
//!
//! ## Notation (fixed once for the whole crate)
//!
//! | item | convention |
//! |---|---|
//! | `p_*` | fixed input (the joint p(x,y) and what follows from it) |
//! | `q_*` | optimised quantities (encoders q(t|x), decoders q(y|t)) |
//! | `_given_` | conditionals written in full: `p_y_given_x`, `q_t_given_x` |
//! | matrices | rows are the conditioning variable: `p_y_given_x[(x, y)]`, `p_xy[(x, y)]` |
//! | logarithms | natural: every quantity is in **nats** inside; bits (`*_bits`) only at the I/O boundary |
//! | zeros | 0·ln 0 = 0; KL(p‖q) = +inf when p > 0 = q |
//! | beta | L = I(X;T) − β·I(T;Y), β dimensionless (the same in nats and bits) |
//!
//! ## Modules (dependency order)
//!
//! * [`scalar`]: the [`Real`] trait for `f64` and `Mpf<P>`; tolerances.
//! * [`dist`]: [`Joint`], a validated p(x,y).
//! * [`info`]: entropies, KL, JS, mutual information.
//! * [`spectrum`]: singular values of p(x,y)/sqrt(p(x)p(y)), the maximal correlation ρ_m
//!   and the first critical β = 1/ρ_m².
//! * [`io`]: CSV input with located errors. [`gen`]: reproducible standard problems.
//! * [`bottleneck`], [`ib`], [`dual_ib`], [`dib`]: the methods; [`solve`]: their
//!   iteration drivers.
//! * [`bifurcation`]: stability and onset conditions (split eigenvalues, nucleation
//!   tests, the onset constants s* and η_dual).
//! * [`anneal`]: paths across β (continuation up, down, independent; its children solve
//!   where clusters split or merge); [`locate`]: every change of the cluster count along
//!   a path, classified, predicted and located; [`branches`]: comparing the paths (the
//!   envelope, hysteresis, metastable stretches).
//! * [`ntk`]: NNGP/NTK kernels and the infinite ensemble's information.
//! * `cli` (feature `cli`): the `ibex` command line.
//!
//! ## Quick start
//!
//! ```
//! use ibex::{info, Joint, MaximalCorrelation};
//! use nalgebra::DMatrix;
//!
//! // Doubly symmetric binary source with crossover 0.1.
//! let p = Joint::new(DMatrix::from_row_slice(2, 2, &[0.45, 0.05, 0.05, 0.45])).unwrap();
//! let i_bits = info::nats_to_bits(&info::mutual_information(&p));
//! assert!((i_bits - 0.5310044064107188).abs() < 1e-12);      // 1 - h(0.1)
//! let rho = MaximalCorrelation::of(&p);
//! assert!((rho.beta_critical_first - 1.5625).abs() < 1e-12); // 1/(1 - 2·0.1)^2
//! ```
//!
//! The same code at 256 bits: `Joint::<ibex::scalar::Mp256>::new(...)`, with the
//! entries built by [`Real::parse`] from decimal strings.
//!
//! ## References
//! Citation keys such as `[TPB99]` resolve in `papers/README.md` and `papers/refs.bib`.

#![warn(missing_docs)]

pub mod anneal;
pub mod bifurcation;
pub mod bottleneck;
pub mod branches;
pub mod dib;
pub mod dist;
pub mod dual_ib;
pub mod error;
pub mod gen;
pub mod ib;
pub mod info;
pub mod io;
pub mod locate;
pub mod ntk;
pub mod scalar;
pub mod solve;
pub mod spectrum;

#[cfg(feature = "cli")]
pub mod cli;
#[cfg(feature = "cli")]
pub mod plot;

pub use dist::Joint;
pub use error::{Error, Result};
pub use scalar::Real;
pub use spectrum::MaximalCorrelation;
