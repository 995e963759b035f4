//! `Report`: an ordered list of named results, rendered as a table, JSON or CSV.
//!
//! Numbers are stored as `f64` (JSON numbers, `null` when not finite) and, above `f64`
//! precision, also as decimal strings carrying the working precision (`<key>_decimal`).

use serde_json::{Map, Value};

use crate::scalar::Real;

/// One named result.
struct Entry {
    key: String,
    label: String,
    unit: String,
    value: Value,
    decimal: Option<Value>,
}

/// An ordered set of results.
#[derive(Default)]
pub struct Report {
    entries: Vec<Entry>,
}

fn number(x: f64) -> Value {
    serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
}

/// The decimal twin of a real: its digits, or `null` when it is not finite, as its
/// value is in JSON (it was "inf" beside a null value).
fn decimal<T: Real>(x: &T) -> Value {
    if x.is_finite() {
        Value::String(x.to_decimal())
    } else {
        Value::Null
    }
}

impl Report {
    /// Adds any JSON value (text, list, shape) without a decimal twin.
    pub fn value(&mut self, key: &str, label: &str, unit: &str, value: Value) {
        self.entries.push(Entry {
            key: key.into(),
            label: label.into(),
            unit: unit.into(),
            value,
            decimal: None,
        });
    }

    /// Adds a real number; above f64 precision also its decimal string.
    pub fn real<T: Real>(&mut self, key: &str, label: &str, unit: &str, x: &T) {
        let decimal = (T::PRECISION_BITS > 53).then(|| decimal(x));
        self.entries.push(Entry {
            key: key.into(),
            label: label.into(),
            unit: unit.into(),
            value: number(x.to_f64()),
            decimal,
        });
    }

    /// Adds a list of reals; above f64 precision also their decimal strings.
    pub fn reals<T: Real>(&mut self, key: &str, label: &str, unit: &str, xs: &[T]) {
        let decimal =
            (T::PRECISION_BITS > 53).then(|| Value::Array(xs.iter().map(decimal).collect()));
        self.entries.push(Entry {
            key: key.into(),
            label: label.into(),
            unit: unit.into(),
            value: Value::Array(xs.iter().map(|x| number(x.to_f64())).collect()),
            decimal,
        });
    }

    /// The report in `format`: the table, pretty JSON, or the two CSV lines.
    ///
    /// # Errors
    /// A JSON serialisation failure.
    pub fn render(&self, format: super::Format) -> crate::error::Result<String> {
        Ok(match format {
            super::Format::Table => self.table(),
            super::Format::Json => format!("{}\n", serde_json::to_string_pretty(&self.json())?),
            super::Format::Csv => self.csv(),
        })
    }

    /// The JSON object: `key: value` and, where present, `key_decimal: "digits"`.
    pub fn json(&self) -> Value {
        let mut map = Map::new();
        for e in &self.entries {
            map.insert(e.key.clone(), e.value.clone());
            if let Some(d) = &e.decimal {
                map.insert(format!("{}_decimal", e.key), d.clone());
            }
        }
        Value::Object(map)
    }

    /// One header line of keys and one line of values (lists joined with `;`).
    pub fn csv(&self) -> String {
        let mut keys = Vec::new();
        let mut values = Vec::new();
        for e in &self.entries {
            keys.push(e.key.clone());
            values.push(csv_cell(&e.value));
            if let Some(d) = &e.decimal {
                keys.push(format!("{}_decimal", e.key));
                values.push(csv_cell(d));
            }
        }
        format!("{}\n{}\n", keys.join(","), values.join(","))
    }

    /// Aligned `label  value  unit` lines; above f64 precision the value is the decimal.
    pub fn table(&self) -> String {
        let width = self
            .entries
            .iter()
            .map(|e| e.label.chars().count())
            .max()
            .unwrap_or(0);
        let mut out = String::new();
        for e in &self.entries {
            let shown = e.decimal.as_ref().unwrap_or(&e.value);
            let text = plain(shown);
            let pad = width - e.label.chars().count();
            let unit = if e.unit.is_empty() {
                String::new()
            } else {
                format!("  {}", e.unit)
            };
            out.push_str(&format!(
                "{}{}  {}{}\n",
                e.label,
                " ".repeat(pad),
                text,
                unit
            ));
        }
        out
    }
}

fn plain(v: &Value) -> String {
    match v {
        Value::Null => "inf".into(),
        Value::String(s) => s.clone(),
        Value::Array(items) if items.is_empty() => "none".into(),
        Value::Array(items) => items.iter().map(plain).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

fn csv_cell(v: &Value) -> String {
    let text = match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(csv_cell).collect::<Vec<_>>().join(";"),
        other => other.to_string(),
    };
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}
