//! The `ibex` binary: parse the arguments, run, print any error on one line, exit 2.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = ibex::cli::Args::parse();
    match ibex::cli::run(args, &mut std::io::stdout().lock()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
