//! `ibex demo`: the main job on the bundled example data.
//!
//! The examples are compiled into the binary (so the demo runs from any directory); the
//! same files are in `data/examples/`.

use std::io::Write;

use super::{emit, DemoArgs};
use crate::error::Result;
use crate::info::{nats_to_bits, Measures};
use crate::io::{parse_joint, InputLayout, ReadOptions};
use crate::scalar::Real;
use crate::spectrum::MaximalCorrelation;

/// A bundled example: its path in the repository, its text, and how to read it.
struct Example {
    path: &'static str,
    text: &'static str,
    layout: InputLayout,
    counts: bool,
}

macro_rules! example {
    ($name:literal) => {
        example!($name, InputLayout::Dense, false)
    };
    ($name:literal, $layout:expr, $counts:expr) => {
        Example {
            path: concat!("data/examples/", $name),
            text: include_str!(concat!("../../data/examples/", $name)),
            layout: $layout,
            counts: $counts,
        }
    };
}

fn examples() -> Vec<Example> {
    vec![
        example!("dsbs_e0.1.csv"),
        example!("ib_3x3.csv"),
        example!("binary_x_hysteresis.csv"),
        example!("bec_e0.4.csv"),
        example!("dualib_5x2.csv"),
        example!("gaussian_rho0.9_n32.csv"),
        example!("dirichlet_64x16_seed1.csv"),
        example!("sparse_32x16_nnz3_seed1.csv"),
        example!("weather_counts_long.csv", InputLayout::Long, true),
    ]
}

/// One row of the demo table.
fn row<T: Real>(e: &Example) -> Result<String> {
    let options = ReadOptions {
        layout: e.layout,
        counts: e.counts,
        normalize: false,
    };
    let file = parse_joint::<T>(e.path, e.text, &options)?;
    let j = &file.joint;
    let m = Measures::of(j);
    let mc = MaximalCorrelation::of(j);
    Ok(format!(
        "{:<44} {:>7} {:>9.6} {:>9.6} {:>9.6} {:>9.6} {:>12.6}\n",
        e.path,
        format!("{}x{}", j.nx(), j.ny()),
        nats_to_bits(&m.h_x).to_f64(),
        nats_to_bits(&m.h_y).to_f64(),
        nats_to_bits(&m.i_xy).to_f64(),
        mc.rho_m.to_f64(),
        mc.beta_critical_first.to_f64(),
    ))
}

/// Runs `ibex demo`.
pub fn run(args: &DemoArgs, out: &mut dyn Write) -> Result<()> {
    // Before any work: the sweeps at the end write into --out.
    super::prepare_output_dir("--out", &args.out)?;
    let mut text = String::from(
        "ibex demo: exact information measures of the bundled joint distributions\n\
         (entropies and I(X;Y) in bits; rho_m = maximal correlation; 1/rho_m^2 = the beta\n\
         at which the trivial IB solution of L = I(X;T) - beta I(T;Y) loses stability)\n\n",
    );
    text.push_str(&format!(
        "{:<44} {:>7} {:>9} {:>9} {:>9} {:>9} {:>12}\n",
        "file", "shape", "H(X)", "H(Y)", "I(X;Y)", "rho_m", "1/rho_m^2"
    ));
    for e in examples() {
        text.push_str(&row::<f64>(&e)?);
    }
    #[cfg(feature = "mpfr")]
    {
        use crate::scalar::Mp256;
        let e = &examples()[0];
        let file = parse_joint::<Mp256>(e.path, e.text, &ReadOptions::default())?;
        let i_bits = nats_to_bits(&crate::info::mutual_information(&file.joint));
        let mc = MaximalCorrelation::of(&file.joint);
        text.push_str(&format!(
            "\nThe same at 256 bits, {}:\n  I(X;Y)    = {} bits (closed form 1 - h(0.1))\n  1/rho_m^2 = {} (closed form 1/(1 - 2*0.1)^2 = 1.5625)\n",
            e.path,
            i_bits.to_decimal(),
            mc.beta_critical_first.to_decimal()
        ));
    }
    text.push_str(&solve_table()?);
    text.push_str(&sweeps(&args.out)?);
    text.push_str(
        "\nMore: `ibex info FILE --format json`, `ibex solve FILE --beta B`, `ibex info FILE --precision 512`, `ibex gen --help`.\n",
    );
    emit(out, &text)
}

/// IB, dual IB and DIB on the 3x3 example at a few betas (identity start, f64).
fn solve_table() -> Result<String> {
    use crate::dib::GeneralizedIb;
    use crate::dual_ib::DualIb;
    use crate::ib::Ib;
    use crate::solve::{solve_best, Init, MergeTol, Stop};

    let e = &examples()[1];
    let p = parse_joint::<f64>(e.path, e.text, &ReadOptions::default())?.joint;
    let stop = Stop::<f64>::default();
    let merge = MergeTol::for_stop(&stop);
    let mut text = format!(
        "\nIB, dual IB and deterministic IB on {} (best of the identity and single-cluster starts; bits; beta in L = I(X;T) - beta I(T;Y)):\n{:>8} {:>7} {:>9} {:>9} {:>9} {:>6} {:>11}\n",
        e.path, "beta", "method", "I(X;T)", "I(T;Y)", "H(T)", "|T|", "iterations"
    );
    for beta in [1.5, 2.5, 5.0, 20.0] {
        let starts = || -> Result<Vec<_>> {
            Ok(vec![
                Init::<f64>::Identity.encoder(p.nx(), p.nx())?,
                Init::<f64>::SingleCluster.encoder(p.nx(), p.nx())?,
            ])
        };
        let runs = [
            solve_best(&Ib, &p, &beta, starts()?, &stop, &merge).0,
            solve_best(&DualIb, &p, &beta, starts()?, &stop, &merge).0,
            solve_best(
                &GeneralizedIb::deterministic(),
                &p,
                &beta,
                starts()?,
                &stop,
                &merge,
            )
            .0,
        ];
        for s in runs {
            text.push_str(&format!(
                "{:>8} {:>7} {:>9.6} {:>9.6} {:>9.6} {:>6} {:>11}\n",
                beta,
                s.method,
                nats_to_bits(&s.i_xt),
                nats_to_bits(&s.i_ty),
                nats_to_bits(&crate::info::entropy(
                    &s.clusters.iter().map(|(m, _)| *m).collect::<Vec<_>>()
                )),
                s.clusters.len(),
                s.iterations
            ));
        }
    }
    Ok(text)
}

/// IB and dual-IB sweeps (both directions) on the 3x3 example, with plots, into `dir`.
fn sweeps(dir: &std::path::Path) -> Result<String> {
    use super::anneal::{sweep_into, AnnealMethod, DirectionArg, SweepArgs};
    use super::JointInput;

    let e = &examples()[1];
    let data = dir.join("ib_3x3.csv");
    std::fs::write(&data, e.text)
        .map_err(|err| crate::error::Error::io(data.display().to_string(), err))?;
    let mut text = String::new();
    for (method, name) in [(AnnealMethod::Ib, "ib"), (AnnealMethod::Dualib, "dualib")] {
        let args = SweepArgs {
            input: JointInput {
                file: data.clone(),
                normalize: false,
                counts: false,
                long: false,
                precision: 53,
                label_noise: None,
            },
            method,
            beta_min: "0.5".into(),
            beta_max: "100".into(),
            points: 40,
            betas: None,
            direction: DirectionArg::Both,
            tol: None,
            max_iter: 100_000,
            acceleration: super::solve::AccelerationArg::Auto,
            locate_tol: None,
            max_points: 400,
            max_located: "all".into(),
            restarts: crate::anneal::DEFAULT_RESTARTS,
            seed: 0,
        };
        text.push_str(&format!(
            "\n{name} sweep of {} (up from the trivial solution, down from T = X):\n",
            e.path
        ));
        text.push_str(&sweep_into::<f64>(&args, Some(&dir.join(name)), true)?);
    }
    Ok(text)
}
