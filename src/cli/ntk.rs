//! `ibex ntk`: closed-form NTK information of infinite ensembles (in progress).

use std::io::Write;

use crate::error::{Error, Result};

/// Arguments of `ibex ntk`.
#[derive(Debug, Clone, clap::Args)]
pub struct NtkArgs {}

/// Runs `ibex ntk`.
pub fn run(_args: &NtkArgs, _out: &mut dyn Write) -> Result<()> {
    Err(Error::parameter("ntk", "the ntk command", "a released feature (not yet implemented)"))
}
