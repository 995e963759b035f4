//! Wall time of the issue-4 benchmark sweeps: 50 log-spaced betas from 0.1 to 1000,
//! converged to tol 1e-10, on the 256x32 Dirichlet joint (seed 1) and the 100x100
//! discretised Gaussian (rho 0.9), in each direction, with and without acceleration.
//!
//! ```sh
//! cargo run --release --example sweep_timing -- [JOINT] [DIRECTION] [ACCEL] [THREADS] [MAX_ITER] [RESTARTS]
//! #   JOINT      256x32 | 100x100 | 64x16 | all (default all)
//! #   DIRECTION  up | down | independent | all (default all)
//! #   ACCEL      auto | squarem | anderson | none (default auto: SQUAREM up, Anderson
//! #              down and in the independent mode)
//! #   THREADS    rayon threads (default 1)
//! #   MAX_ITER   cap on map evaluations per beta (default 100000)
//! #   RESTARTS   random starts per beta in the independent mode (default 3)
//! ```
//!
//! Prints one line per run: joint, direction, acceleration, threads, seconds, total map
//! evaluations, the largest per-beta count, and how many points did not converge. With
//! `SWEEP_VERBOSE=1` in the environment it also prints the elapsed time as each point is
//! finished (stderr) and one line per point (stdout: beta, clusters, columns, evaluations,
//! termination, residual, I(X;T), objective).

use std::time::Instant;

use ibex::anneal::{anneal, AnnealOptions, Direction, DEFAULT_RESTARTS};
use ibex::ib::Ib;
use ibex::io::{parse_joint, ReadOptions};
use ibex::solve::{Acceleration, Stop, Termination};
use ibex::Joint;

fn joint(name: &str) -> Joint<f64> {
    let generated = match name {
        "64x16" => ibex::gen::dirichlet(64, 16, 1, 1.0),
        "256x32" => ibex::gen::dirichlet(256, 32, 1, 1.0),
        "100x100" => ibex::gen::gaussian(100, 0.9, 4.0),
        other => {
            eprintln!(
                "sweep_timing: unknown joint `{other}`: expected 64x16, 256x32, 100x100 or all \
                 (the benchmark joints are generated, not read from files)"
            );
            std::process::exit(2);
        }
    }
    .expect("generator");
    parse_joint::<f64>(
        name,
        &generated.to_csv("sweep_timing"),
        &ReadOptions::default(),
    )
    .expect("generated joint parses")
    .joint
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let pick = |i: usize, default: &str| args.get(i).cloned().unwrap_or_else(|| default.into());
    let joints: Vec<String> = match pick(0, "all").as_str() {
        "all" => vec!["256x32".into(), "100x100".into()],
        one => vec![one.into()],
    };
    let directions: Vec<Direction> = match pick(1, "all").as_str() {
        "up" => vec![Direction::Up],
        "down" => vec![Direction::Down],
        "independent" => vec![Direction::Independent],
        _ => vec![Direction::Up, Direction::Down, Direction::Independent],
    };
    let acceleration = match pick(2, "auto").as_str() {
        "none" => Acceleration::None,
        "anderson" => Acceleration::Anderson,
        "squarem" => Acceleration::Squarem,
        _ => Acceleration::Auto,
    };
    let threads: usize = pick(3, "1").parse().expect("THREADS is a number");
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("thread pool");
    let betas: Vec<f64> = (0..50)
        .map(|i| 10f64.powf(-1.0 + 4.0 * i as f64 / 49.0))
        .collect();
    let max_iter: usize = pick(4, "100000").parse().expect("MAX_ITER is a number");
    let stop = Stop::new(max_iter, 1e-10).with_acceleration(acceleration);
    let restarts: usize = pick(5, &DEFAULT_RESTARTS.to_string())
        .parse()
        .expect("RESTARTS is a number");
    let options = AnnealOptions {
        restarts,
        ..AnnealOptions::new(stop)
    };
    let verbose = std::env::var_os("SWEEP_VERBOSE").is_some();
    for name in &joints {
        let p = joint(name);
        for &direction in &directions {
            let t0 = Instant::now();
            let tick = |n: usize| {
                if verbose {
                    eprintln!("  [{n} points after {:.3} s]", t0.elapsed().as_secs_f64());
                }
            };
            let path = pool.install(|| anneal(&Ib, &p, &betas, direction, &options, &tick));
            let seconds = t0.elapsed().as_secs_f64();
            let total: usize = path.points.iter().map(|s| s.iterations).sum();
            let worst = path.points.iter().map(|s| s.iterations).max().unwrap_or(0);
            let unconverged = path
                .points
                .iter()
                .filter(|s| s.termination != Termination::Converged)
                .count();
            if verbose {
                for s in &path.points {
                    println!(
                        "  beta {:.4} clusters {} cols {} iterations {} {} residual {:.1e} i_xt {:.6} objective {:.15e}",
                        s.beta,
                        s.clusters.len(),
                        s.q_t_given_x.ncols(),
                        s.iterations,
                        s.termination.as_str(),
                        s.residual,
                        s.i_xt,
                        s.objective
                    );
                }
            }
            println!(
                "{name} {} {} threads={threads} {seconds:.3} s evaluations={total} max={worst} unconverged={unconverged}",
                direction.as_str(),
                acceleration.as_str(),
            );
        }
    }
}
