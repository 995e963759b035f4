//! `Error`, the only error type of the library.
//!
//! The rules: bad input is an `Err` from a constructor or reader, with a message that
//! says where (file, line, column), what was found and what was expected. Objects that
//! were built successfully have infallible methods. Numerical trouble inside an
//! algorithm (non-convergence, non-finite values) is reported in its result, never as
//! an `Err`. The exception is [`Error::Overflow`]: a quantity computed straight from
//! valid input (the kernels of `ibex ntk`) that is not finite at the working precision,
//! so that nothing after it can be computed; its message names the quantity, the value
//! and the way out.

/// Everything that can go wrong when ibex is given input.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A table that is not a probability distribution (negative or non-finite entries,
    /// all zeros, a sum away from 1).
    #[error("invalid distribution: {0}")]
    InvalidDistribution(String),
    /// A parameter outside its domain (for example a crossover probability above 1).
    #[error("invalid parameter `{name}`: found {found}, expected {expected}")]
    InvalidParameter {
        /// The parameter's name as the user wrote it (`--crossover`, `nx`).
        name: String,
        /// What was given.
        found: String,
        /// What is allowed.
        expected: String,
    },
    /// A quantity computed from valid input that is not finite at the working precision
    /// (it overflowed) and without which nothing can be computed, for example an NTK
    /// kernel entry with a huge σ_w. The input is not outside its domain, it is too large
    /// for the precision; the message says which quantity, where, and the way out.
    #[error("{what} overflowed in {precision}: found {found}, expected {expected}")]
    Overflow {
        /// What overflowed (`the NNGP kernel`).
        what: String,
        /// The working precision as messages name it (`f64`, `128-bit MPFR`).
        precision: String,
        /// The value and where it is (`entry (1, 1) = inf (training point 1 with itself)`).
        found: String,
        /// What it should be, and what to change to get it.
        expected: String,
    },
    /// A problem at one place of an input file. `line` and `column` are 1-based;
    /// `column` counts characters from the start of the line.
    #[error("{file}:{line}:{column}: found {found}, expected {expected}")]
    Input {
        /// The file as the user named it.
        file: String,
        /// 1-based line number.
        line: usize,
        /// 1-based character column.
        column: usize,
        /// What is there.
        found: String,
        /// What should be there.
        expected: String,
    },
    /// A problem with an input file as a whole (empty, sum off, all zeros).
    #[error("{file}: {message}")]
    InputFile {
        /// The file as the user named it.
        file: String,
        /// What is wrong and what to do about it.
        message: String,
    },
    /// An operating-system error on a named path.
    #[error("{path}: {source}")]
    Io {
        /// The path that could not be read or written.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A JSON serialisation error.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
}

/// `Result` with ibex's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An `InvalidParameter` error.
    pub fn parameter(
        name: impl Into<String>,
        found: impl Into<String>,
        expected: impl Into<String>,
    ) -> Self {
        Error::InvalidParameter {
            name: name.into(),
            found: found.into(),
            expected: expected.into(),
        }
    }

    /// An `Io` error on `path`.
    pub fn io(path: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
