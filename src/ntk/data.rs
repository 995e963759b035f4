//! Reading labelled points from CSV: one point per row, the inputs and then the target
//! in the last column, an optional header, `#` comments and blank lines skipped. Errors
//! name the file, line and column (the style of [`crate::io`]).

use std::path::Path;

use nalgebra::DMatrix;

use crate::error::{Error, Result};
use crate::io::{decode_utf8, fields};
use crate::scalar::Real;

/// Points read from a file.
#[derive(Clone, Debug)]
pub struct PointsFile<T: Real> {
    /// Inputs, one point per row (n × d_in).
    pub x: DMatrix<T>,
    /// Targets, one per row (n × 1).
    pub y: DMatrix<T>,
    /// The header's column names, when the file has one.
    pub header: Option<Vec<String>>,
    /// The file as named.
    pub source: String,
    /// The 1-based line number of every point (for messages).
    pub lines: Vec<usize>,
}

fn input_error(file: &str, line: usize, column: usize, found: String, expected: &str) -> Error {
    Error::Input {
        file: file.to_string(),
        line,
        column,
        found,
        expected: expected.to_string(),
    }
}

/// Reads the points in the file at `path` (see [`parse_points`]).
///
/// # Errors
/// [`Error::Io`] when the file cannot be read, otherwise as [`parse_points`].
pub fn read_points<T: Real>(path: &Path, min_points: usize) -> Result<PointsFile<T>> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| Error::io(&name, e))?;
    let text = decode_utf8(&name, bytes)?;
    parse_points(&name, &text, min_points)
}

/// Parses points from CSV `text` (`name` is used in messages): every data row has the
/// same number (at least 2) of comma-separated decimal fields, the inputs and then the
/// target. The first data line is a header when none of its fields is a number.
/// Decimals are parsed once at the working precision.
///
/// # Errors
/// [`Error::Input`] (file:line:column) for a non-numeric or non-finite field, a row with
/// a different number of fields, a row with fewer than 2 fields;
/// [`Error::InputFile`] for fewer than `min_points` rows.
pub fn parse_points<T: Real>(name: &str, text: &str, min_points: usize) -> Result<PointsFile<T>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut header = None;
    let mut width: Option<(usize, usize)> = None; // (fields, line of the first row)
    let mut values: Vec<T> = Vec::new();
    let mut lines = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let number = i + 1;
        let line = raw.trim_end_matches('\r');
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let row = fields(line);
        if header.is_none()
            && width.is_none()
            && row
                .iter()
                .all(|f| !f.text.is_empty() && T::parse(f.text).is_err())
        {
            if row.len() < 2 {
                return Err(input_error(
                    name,
                    number,
                    1,
                    format!("a header with {} field", row.len()),
                    "at least 2 columns: the inputs, then the target",
                ));
            }
            width = Some((row.len(), number));
            header = Some(row.iter().map(|f| f.text.to_string()).collect());
            continue;
        }
        let (w, first) = match width {
            Some(w) => w,
            None => {
                if row.len() < 2 {
                    return Err(input_error(
                        name,
                        number,
                        line.chars().count() + 1,
                        format!("{} field", row.len()),
                        "at least 2 fields per row: the inputs, then the target",
                    ));
                }
                width = Some((row.len(), number));
                (row.len(), number)
            }
        };
        if row.len() != w {
            let column = if row.len() > w {
                row[w].column
            } else {
                line.chars().count() + 1
            };
            return Err(input_error(
                name,
                number,
                column,
                format!("{} fields", row.len()),
                &format!("{w} fields, as on line {first} (the inputs, then the target)"),
            ));
        }
        for f in &row {
            if f.text.is_empty() {
                return Err(input_error(
                    name,
                    number,
                    f.column,
                    "an empty field".into(),
                    "a decimal number",
                ));
            }
            let v = T::parse(f.text).map_err(|_| {
                input_error(
                    name,
                    number,
                    f.column,
                    format!("`{}`", f.text),
                    "a decimal number",
                )
            })?;
            if !v.is_finite() {
                return Err(input_error(
                    name,
                    number,
                    f.column,
                    format!("`{}`", f.text),
                    "a finite decimal number (NaN and infinity are not allowed)",
                ));
            }
            values.push(v);
        }
        lines.push(number);
    }
    let n = lines.len();
    if n < min_points.max(1) {
        return Err(Error::InputFile {
            file: name.to_string(),
            message: format!(
                "found {n} data row{}, expected at least {} (one point per row: the inputs, then the target)",
                if n == 1 { "" } else { "s" },
                min_points.max(1)
            ),
        });
    }
    let w = width.map_or(0, |w| w.0);
    let d = w - 1;
    let x = DMatrix::from_fn(n, d, |i, j| values[i * w + j].clone());
    let y = DMatrix::from_fn(n, 1, |i, _| values[i * w + d].clone());
    Ok(PointsFile {
        x,
        y,
        header,
        source: name.to_string(),
        lines,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_comments_and_values() {
        let f = parse_points::<f64>("t.csv", "# c\nx1, x2,y\n1,2,3\n\n4,5,6\n", 1).unwrap();
        assert_eq!(f.header.as_deref().unwrap(), ["x1", "x2", "y"]);
        assert_eq!(f.x.shape(), (2, 2));
        assert_eq!(f.y[(1, 0)], 6.0);
        assert_eq!(f.lines, [3, 5]);
    }

    #[test]
    fn located_errors() {
        let e = parse_points::<f64>("t.csv", "1,2,3\n4,x,6\n", 1).unwrap_err();
        assert_eq!(
            e.to_string(),
            "t.csv:2:3: found `x`, expected a decimal number"
        );
        let e = parse_points::<f64>("t.csv", "1,2,3\n4,5\n", 1).unwrap_err();
        assert!(e
            .to_string()
            .starts_with("t.csv:2:4: found 2 fields, expected 3 fields"));
        let e = parse_points::<f64>("t.csv", "1,2\n", 2).unwrap_err();
        assert!(e
            .to_string()
            .contains("found 1 data row, expected at least 2"));
    }
}
