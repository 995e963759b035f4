//! `ibex info`: measures and maximal correlation of a joint distribution.

use std::io::Write;

use serde_json::{json, Value};

use super::report::Report;
use super::{emit, InfoArgs};
use crate::bifurcation::independent_to_rounding;
use crate::error::Result;
use crate::info::{nats_to_bits, Measures};
use crate::io::JointFile;
use crate::scalar::Real;
use crate::with_precision;

/// Runs `ibex info`.
pub fn run(args: &InfoArgs, out: &mut dyn Write) -> Result<()> {
    let report = with_precision!(args.input.precision, info_report(args))?;
    emit(out, &report.render(args.format)?)
}

fn info_report<T: Real>(args: &InfoArgs) -> Result<Report> {
    let file = args.input.read::<T>()?;
    Ok(joint_report(&file))
}

/// The report of `ibex info` for a joint read from a file (stable keys).
pub fn joint_report<T: Real>(file: &JointFile<T>) -> Report {
    let j = &file.joint;
    let m = Measures::of(j);
    let mc = j.maximal_correlation();
    let mut r = Report::default();
    r.value("file", "file", "", Value::String(file.source.clone()));
    super::report_label_noise(&mut r, file);
    r.value("shape", "shape (x, y)", "", json!([j.nx(), j.ny()]));
    r.value(
        "precision_bits",
        "precision",
        "bits",
        json!(T::PRECISION_BITS),
    );
    r.real("h_x_bits", "H(X)", "bits", &nats_to_bits(&m.h_x));
    r.real("h_y_bits", "H(Y)", "bits", &nats_to_bits(&m.h_y));
    r.real("h_xy_bits", "H(X,Y)", "bits", &nats_to_bits(&m.h_xy));
    r.real(
        "h_y_given_x_bits",
        "H(Y|X)",
        "bits",
        &nats_to_bits(&m.h_y_given_x),
    );
    r.real(
        "h_x_given_y_bits",
        "H(X|Y)",
        "bits",
        &nats_to_bits(&m.h_x_given_y),
    );
    r.real("i_xy_bits", "I(X;Y)", "bits", &nats_to_bits(&m.i_xy));
    r.real("i_xy_nats", "I(X;Y)", "nats", &m.i_xy);
    r.real("rho_m", "rho_m (maximal correlation)", "", &mc.rho_m);
    // rho_m of independent X and Y written with rounding is 1e-16, not 0; anneal and
    // bifurcations treat it as 0 (no threshold), and so does the first critical beta here.
    let rounding = independent_to_rounding(j);
    r.value(
        "rho_m_at_rounding_level",
        "rho_m at rounding level",
        "",
        json!(rounding),
    );
    let beta_critical_first = if rounding {
        T::infinity()
    } else {
        mc.beta_critical_first.clone()
    };
    r.real(
        "beta_critical_first",
        "1/rho_m^2 (first critical beta)",
        "",
        &beta_critical_first,
    );
    r.reals(
        "singular_values",
        "singular values of p(x,y)/sqrt(p(x)p(y))",
        "",
        &mc.singular_values,
    );
    r.value(
        "dropped_x",
        "x dropped (p(x) = 0)",
        "",
        json!(j.dropped_x()),
    );
    if let Some(sum) = &file.divided_by {
        let (key, label) = if file.counts {
            ("total_count", "total count (divided by)")
        } else {
            ("normalized_from_sum", "original sum (divided by)")
        };
        r.real(key, label, "", sum);
    }
    r
}
