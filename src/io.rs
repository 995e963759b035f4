//! Reading a joint distribution from CSV text, with errors that name the file, line and
//! column, what was found and what was expected.
//!
//! Two layouts:
//! * **dense** (default): no header, one row per x, one comma-separated column per y.
//! * **long** (`InputLayout::Long`): a header `x,y,p` or `x,y,count`, then one line per
//!   (x, y) pair with a label for x, a label for y and a value; pairs that do not appear
//!   are 0. Labels are kept (in order of first appearance) for output.
//!
//! In both, blank lines and lines whose first non-blank character is `#` are skipped
//! (use them for provenance), fields may be padded with spaces, and values are decimal
//! strings parsed once at the working precision ([`Real::parse`]). With counts
//! (`--counts`, or a long file with a `count` column) every value must be a
//! non-negative integer and p = n / N is formed exactly at the working precision.

use std::collections::HashMap;
use std::path::Path;

use nalgebra::DMatrix;

use crate::dist::{Joint, MAX_CELLS};
use crate::error::{Error, Result};
use crate::scalar::{tol, Real};

/// The layout of a joint-distribution file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum InputLayout {
    /// A matrix without header: rows = x, columns = y.
    #[default]
    Dense,
    /// A header `x,y,p` or `x,y,count`, then one (x, y, value) per line.
    Long,
}

/// How to read a joint-distribution file.
#[derive(Clone, Copy, Debug, Default)]
pub struct ReadOptions {
    /// Dense matrix or long (x, y, value) lines.
    pub layout: InputLayout,
    /// Values are non-negative integer counts.
    pub counts: bool,
    /// Divide by the sum instead of requiring it to be 1 (strict by default).
    pub normalize: bool,
}

/// A joint read from a file, with what happened on the way.
#[derive(Clone, Debug)]
pub struct JointFile<T: Real> {
    /// The distribution.
    pub joint: Joint<T>,
    /// The file's name as given.
    pub source: String,
    /// The sum the values were divided by: the total count for counts, the original
    /// sum with `normalize`; `None` when the file was already normalised.
    pub divided_by: Option<T>,
    /// Whether the values were counts.
    pub counts: bool,
    /// The uniform label noise ε mixed into p(y|x) after reading
    /// ([`Joint::with_label_noise`]); `None` when the joint is the file's.
    pub label_noise: Option<T>,
}

/// Reads a joint distribution from the file at `path`.
///
/// # Errors
/// [`Error::Io`] when the file cannot be read; [`Error::Input`] (with line and column)
/// for a bad cell, a ragged row, a bad header or a duplicate pair;
/// [`Error::InputFile`] for an empty file, all zeros, a sum away from 1 without
/// `normalize`, or a table larger than [`MAX_CELLS`].
pub fn read_joint<T: Real>(path: &Path, options: &ReadOptions) -> Result<JointFile<T>> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| Error::io(&name, e))?;
    let text = decode_utf8(&name, bytes)?;
    parse_joint(&name, &text, options)
}

/// Parses a joint distribution from CSV `text`; `name` is used in error messages.
///
/// # Errors
/// As [`read_joint`], without the I/O errors.
pub fn parse_joint<T: Real>(name: &str, text: &str, options: &ReadOptions) -> Result<JointFile<T>> {
    let lines = data_lines(text);
    if lines.is_empty() {
        return Err(Error::InputFile {
            file: name.to_string(),
            message: match options.layout {
                InputLayout::Dense => "found no data (the file is empty or holds only comments), expected rows of comma-separated probabilities, one row per x".into(),
                InputLayout::Long => "found no data (the file is empty or holds only comments), expected a header x,y,p or x,y,count and then one line per (x, y) pair".into(),
            },
        });
    }
    let table = match options.layout {
        InputLayout::Dense => dense_table::<T>(name, &lines, options.counts)?,
        InputLayout::Long => long_table::<T>(name, &lines, options.counts)?,
    };
    finish(name, table, options)
}

/// Reads a dense matrix of non-negative finite numbers (no header, `#` comments), such
/// as an encoder q(t|x) written by `ibex solve --encoder-out`.
///
/// # Errors
/// As [`read_joint`] for the dense layout (located cell errors, ragged rows, empty file),
/// without any normalisation check.
pub fn read_matrix<T: Real>(path: &Path) -> Result<DMatrix<T>> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| Error::io(&name, e))?;
    let text = decode_utf8(&name, bytes)?;
    let lines = data_lines(&text);
    if lines.is_empty() {
        return Err(Error::InputFile {
            file: name,
            message: "found no data (the file is empty or holds only comments), expected rows of comma-separated numbers".into(),
        });
    }
    let table = dense_table::<T>(&name, &lines, false)?;
    match table.values {
        Values::Probabilities(v) => Ok(DMatrix::from_row_iterator(table.nx, table.ny, v)),
        Values::Counts(_) => unreachable!("dense_table without counts returns probabilities"),
    }
}

/// A parsed table before it becomes a `Joint`.
struct Table<T> {
    values: Values<T>,
    nx: usize,
    ny: usize,
    x_labels: Vec<String>,
    y_labels: Vec<String>,
}

enum Values<T> {
    Probabilities(Vec<T>),
    Counts(Vec<u64>),
}

/// One non-comment line: its 1-based number and its text.
struct Line<'a> {
    number: usize,
    text: &'a str,
}

/// A field of a line: its text (trimmed) and its 1-based character column.
pub(crate) struct Field<'a> {
    /// The trimmed text.
    pub(crate) text: &'a str,
    /// The 1-based character column where it starts.
    pub(crate) column: usize,
}

/// The bytes of the file `name` as UTF-8 text, or an error locating the first bad byte.
pub(crate) fn decode_utf8(name: &str, bytes: Vec<u8>) -> Result<String> {
    String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let text = String::from_utf8_lossy(valid);
        let line = text.matches('\n').count() + 1;
        let column = text.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        Error::Input {
            file: name.to_string(),
            line,
            column,
            found: "a byte that is not UTF-8 text".into(),
            expected: "a UTF-8 (or ASCII) CSV text file".into(),
        }
    })
}

fn data_lines(text: &str) -> Vec<Line<'_>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    text.lines()
        .enumerate()
        .filter_map(|(i, raw)| {
            let trimmed = raw.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                None
            } else {
                Some(Line {
                    number: i + 1,
                    text: raw.trim_end_matches('\r'),
                })
            }
        })
        .collect()
}

/// Splits a CSV line at commas into trimmed fields with their columns.
pub(crate) fn fields(line: &str) -> Vec<Field<'_>> {
    let mut out = Vec::new();
    let mut column = 1;
    for piece in line.split(',') {
        // An all-blank field is located at its start; others at their first character.
        let leading = if piece.trim().is_empty() {
            0
        } else {
            piece.len() - piece.trim_start().len()
        };
        let lead_chars = piece[..leading].chars().count();
        out.push(Field {
            text: piece.trim(),
            column: column + lead_chars,
        });
        column += piece.chars().count() + 1;
    }
    out
}

fn input_error(name: &str, line: &Line, column: usize, found: String, expected: &str) -> Error {
    Error::Input {
        file: name.to_string(),
        line: line.number,
        column,
        found,
        expected: expected.to_string(),
    }
}

fn parse_probability<T: Real>(name: &str, line: &Line, field: &Field) -> Result<T> {
    if field.text.is_empty() {
        return Err(input_error(
            name,
            line,
            field.column,
            "an empty field".into(),
            "a non-negative decimal number",
        ));
    }
    let value = T::parse(field.text).map_err(|_| {
        input_error(
            name,
            line,
            field.column,
            format!("`{}`", field.text),
            "a non-negative decimal number",
        )
    })?;
    if !value.is_finite() {
        return Err(input_error(
            name,
            line,
            field.column,
            format!("`{}`", field.text),
            "a finite non-negative number (NaN and infinity are not probabilities)",
        ));
    }
    if value < T::zero() {
        return Err(input_error(
            name,
            line,
            field.column,
            format!("the negative value `{}`", field.text),
            "a non-negative probability",
        ));
    }
    // f64 reads a decimal below its smallest normal number (2.2e-308) as a subnormal,
    // with fewer digits, or below 4.9e-324 as 0, which changes the joint's support: the
    // dual IB's thresholds on `0.5,1e-400` / `0,0.5` read as "undefined" in f64 and as
    // 7.5e-4 at 128 bits. MPFR's exponent range has no such limit.
    let underflowed = if value.is_zero() {
        has_nonzero_digit(field.text)
    } else {
        value.clone().flush_subnormal().is_zero()
    };
    if underflowed {
        return Err(input_error(
            name,
            line,
            field.column,
            format!(
                "`{}`, a non-zero value below the smallest normal number of the working \
                 precision (2.2e-308 in f64), which reads as a subnormal or as 0",
                field.text
            ),
            "0 or a value of at least 2.2e-308; --precision 128 (or more) reads it exactly",
        ));
    }
    Ok(value)
}

/// Whether the mantissa of a decimal (the part before an exponent `e`/`E`) has a digit
/// other than 0: the number is not zero, whatever it parsed to.
fn has_nonzero_digit(text: &str) -> bool {
    text.split(['e', 'E'])
        .next()
        .is_some_and(|mantissa| mantissa.bytes().any(|b| (b'1'..=b'9').contains(&b)))
}

fn parse_count(name: &str, line: &Line, field: &Field) -> Result<u64> {
    let expected = "a non-negative integer count (reading counts)";
    if field.text.is_empty() {
        return Err(input_error(
            name,
            line,
            field.column,
            "an empty field".into(),
            expected,
        ));
    }
    let digits = field.text.strip_prefix('+').unwrap_or(field.text);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return digits.parse::<u64>().map_err(|_| {
            input_error(
                name,
                line,
                field.column,
                format!("the count `{}`, larger than 2^64 - 1", field.text),
                expected,
            )
        });
    }
    Err(input_error(
        name,
        line,
        field.column,
        format!("`{}`", field.text),
        expected,
    ))
}

fn too_large(name: &str, nx: usize, ny: usize) -> Error {
    Error::InputFile {
        file: name.to_string(),
        message: format!(
            "found a table of {nx} x {ny} cells, expected at most {MAX_CELLS} cells (is this really a joint distribution?)"
        ),
    }
}

fn dense_table<T: Real>(name: &str, lines: &[Line], counts: bool) -> Result<Table<T>> {
    let width = fields(lines[0].text).len();
    if width > MAX_CELLS || lines.len().saturating_mul(width) > MAX_CELLS {
        return Err(too_large(name, lines.len(), width));
    }
    let mut probabilities = Vec::new();
    let mut count_values = Vec::new();
    for line in lines {
        let row = fields(line.text);
        if row.len() != width {
            let column = if row.len() > width {
                row[width].column
            } else {
                line.text.chars().count() + 1
            };
            return Err(input_error(
                name,
                line,
                column,
                format!("{} fields", row.len()),
                &format!(
                    "{width} fields, as on line {} (every row of a dense table has one field per y)",
                    lines[0].number
                ),
            ));
        }
        for field in &row {
            if counts {
                count_values.push(parse_count(name, line, field)?);
            } else {
                probabilities.push(parse_probability::<T>(name, line, field)?);
            }
        }
    }
    let nx = lines.len();
    Ok(Table {
        values: if counts {
            Values::Counts(count_values)
        } else {
            Values::Probabilities(probabilities)
        },
        nx,
        ny: width,
        x_labels: (0..nx).map(|i| i.to_string()).collect(),
        y_labels: (0..width).map(|i| i.to_string()).collect(),
    })
}

fn long_table<T: Real>(name: &str, lines: &[Line], counts_flag: bool) -> Result<Table<T>> {
    let header_line = &lines[0];
    let header = fields(header_line.text);
    let names: Vec<String> = header.iter().map(|f| f.text.to_ascii_lowercase()).collect();
    let expected_header = "the header `x,y,p` (probabilities) or `x,y,count` (counts)";
    let counts = match names
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["x", "y", "p"] => false,
        ["x", "y", "count"] => true,
        _ => {
            let bad = ["x", "y", "p|count"]
                .iter()
                .zip(&header)
                .position(|(want, got)| {
                    let got = got.text.to_ascii_lowercase();
                    !want.split('|').any(|w| w == got)
                })
                .unwrap_or(header.len().min(3));
            let column = header
                .get(bad)
                .map_or(header_line.text.chars().count() + 1, |f| f.column);
            return Err(input_error(
                name,
                header_line,
                column,
                format!("the header `{}`", header_line.text.trim()),
                expected_header,
            ));
        }
    };
    if counts_flag && !counts {
        return Err(input_error(
            name,
            header_line,
            header[2].column,
            "a `p` column while reading counts".into(),
            "the header `x,y,count` when counts are asked for",
        ));
    }
    let mut x_index: HashMap<String, usize> = HashMap::new();
    let mut y_index: HashMap<String, usize> = HashMap::new();
    let mut x_labels = Vec::new();
    let mut y_labels = Vec::new();
    let mut seen: HashMap<(usize, usize), usize> = HashMap::new();
    let mut entries: Vec<(usize, usize, Option<T>, u64)> = Vec::new();
    for line in &lines[1..] {
        let row = fields(line.text);
        if row.len() != 3 {
            let column = if row.len() > 3 {
                row[3].column
            } else {
                line.text.chars().count() + 1
            };
            return Err(input_error(
                name,
                line,
                column,
                format!("{} fields", row.len()),
                "3 fields: x label, y label, value",
            ));
        }
        for f in &row[..2] {
            if f.text.is_empty() {
                return Err(input_error(
                    name,
                    line,
                    f.column,
                    "an empty label".into(),
                    "a non-empty label",
                ));
            }
        }
        let x = *x_index.entry(row[0].text.to_string()).or_insert_with(|| {
            x_labels.push(row[0].text.to_string());
            x_labels.len() - 1
        });
        let y = *y_index.entry(row[1].text.to_string()).or_insert_with(|| {
            y_labels.push(row[1].text.to_string());
            y_labels.len() - 1
        });
        if let Some(first) = seen.insert((x, y), line.number) {
            return Err(input_error(
                name,
                line,
                row[0].column,
                format!(
                    "a second entry for x = `{}`, y = `{}` (the first is on line {first})",
                    row[0].text, row[1].text
                ),
                "each (x, y) pair at most once",
            ));
        }
        if x_labels.len().saturating_mul(y_labels.len()) > MAX_CELLS {
            return Err(too_large(name, x_labels.len(), y_labels.len()));
        }
        if counts {
            entries.push((x, y, None, parse_count(name, line, &row[2])?));
        } else {
            entries.push((x, y, Some(parse_probability::<T>(name, line, &row[2])?), 0));
        }
    }
    if entries.is_empty() {
        return Err(Error::InputFile {
            file: name.to_string(),
            message: "found a header but no data lines, expected one line per (x, y) pair".into(),
        });
    }
    let (nx, ny) = (x_labels.len(), y_labels.len());
    let values = if counts {
        let mut v = vec![0u64; nx * ny];
        for (x, y, _, c) in entries {
            v[x * ny + y] = c;
        }
        Values::Counts(v)
    } else {
        let mut v = vec![T::zero(); nx * ny];
        for (x, y, p, _) in entries {
            v[x * ny + y] = p.expect("probability entries carry a value");
        }
        Values::Probabilities(v)
    };
    Ok(Table {
        values,
        nx,
        ny,
        x_labels,
        y_labels,
    })
}

fn finish<T: Real>(name: &str, table: Table<T>, options: &ReadOptions) -> Result<JointFile<T>> {
    let file_error = |message: String| Error::InputFile {
        file: name.to_string(),
        message,
    };
    let Table {
        values,
        nx,
        ny,
        x_labels,
        y_labels,
    } = table;
    match values {
        Values::Counts(counts) => {
            if let Err(total) = crate::dist::count_total(&counts) {
                return Err(file_error(format!(
                    "found counts that add up to {total}, expected a total of at most 2^64 - 1 = {}; divide the counts, or read them as weights with --normalize (without --counts; in the long layout under the header x,y,p)",
                    u64::MAX
                )));
            }
            let matrix = DMatrix::from_row_iterator(nx, ny, counts);
            let n = Joint::<T>::from_counts(&matrix, x_labels, y_labels)
                .map_err(|e| file_error(strip_prefix(e)))?;
            Ok(JointFile {
                joint: n.joint,
                source: name.to_string(),
                divided_by: Some(n.original_sum),
                counts: true,
                label_noise: None,
            })
        }
        Values::Probabilities(p) => {
            let matrix = DMatrix::from_row_iterator(nx, ny, p);
            let sum = matrix.iter().fold(T::zero(), |acc, v| acc + v);
            if sum.is_zero() {
                return Err(file_error(
                    "found only zeros, expected at least one positive probability".into(),
                ));
            }
            if options.normalize {
                let n = Joint::normalized(matrix, x_labels, y_labels)
                    .map_err(|e| file_error(strip_prefix(e)))?;
                return Ok(JointFile {
                    joint: n.joint,
                    source: name.to_string(),
                    divided_by: Some(n.original_sum),
                    counts: false,
                    label_noise: None,
                });
            }
            let off = (sum.clone() - T::one()).abs();
            let allowed = tol::sum_tolerance::<T>(nx * ny);
            if off > allowed {
                let mut message = format!(
                    "found probabilities that sum to {} (off from 1 by {:.3e}), expected a sum of 1 within {:.3e} at {} bits; pass --normalize to divide by the sum",
                    sum.to_decimal(),
                    off.to_f64(),
                    allowed.to_f64(),
                    T::PRECISION_BITS
                );
                if T::PRECISION_BITS > 53 && off.to_f64() < 1e-14 {
                    message.push_str(" (files written with f64 round-trip digits, such as 0.45000000000000001, do not sum to 1 exactly above f64 precision)");
                }
                return Err(file_error(message));
            }
            let joint = Joint::with_labels(matrix, x_labels, y_labels)
                .map_err(|e| file_error(strip_prefix(e)))?;
            Ok(JointFile {
                joint,
                source: name.to_string(),
                divided_by: None,
                counts: false,
                label_noise: None,
            })
        }
    }
}

fn strip_prefix(e: Error) -> String {
    match e {
        Error::InvalidDistribution(msg) => msg,
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str, options: ReadOptions) -> String {
        parse_joint::<f64>("t.csv", text, &options)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn dense_with_comments() {
        let f = parse_joint::<f64>(
            "t.csv",
            "# c\n0.25, 0.25\n\n0.5,0\n",
            &ReadOptions::default(),
        )
        .unwrap();
        assert_eq!(f.joint.nx(), 2);
        assert_eq!(f.joint.p_xy()[(1, 0)], 0.5);
    }

    #[test]
    fn errors_name_line_and_column() {
        let o = ReadOptions::default();
        assert_eq!(
            err("0.5,0.25\n0.25,abc\n", o),
            "t.csv:2:6: found `abc`, expected a non-negative decimal number"
        );
        assert!(err("0.5,0.25\n0.25\n", o).starts_with("t.csv:2:5: found 1 fields"));
        assert!(err("0.5,-0.25\n", o).starts_with("t.csv:1:5: found the negative value"));
    }

    #[test]
    fn long_layout_keeps_labels() {
        let o = ReadOptions {
            layout: InputLayout::Long,
            ..Default::default()
        };
        let f = parse_joint::<f64>("t.csv", "x,y,p\na,u,0.5\nb,v,0.5\n", &o).unwrap();
        assert_eq!(f.joint.x_labels(), &["a", "b"]);
        assert_eq!(f.joint.p_xy()[(0, 1)], 0.0);
    }
}
