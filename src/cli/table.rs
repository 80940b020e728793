//! Plain aligned text tables for people (`--json` is for scripts).

use std::fmt::Write;

pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
    /// Columns aligned right (numbers).
    right: Vec<bool>,
}

impl Table {
    /// A column whose name starts with `>` is right-aligned (the `>` is not shown).
    pub fn new(header: &[&str]) -> Table {
        Table {
            right: header.iter().map(|h| h.starts_with('>')).collect(),
            header: header
                .iter()
                .map(|h| h.trim_start_matches('>').to_string())
                .collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn render(&self) -> String {
        let n = self.header.len();
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for r in &self.rows {
            for (i, c) in r.iter().enumerate().take(n) {
                widths[i] = widths[i].max(c.chars().count());
            }
        }
        let mut out = String::new();
        for r in std::iter::once(&self.header).chain(&self.rows) {
            let mut line = String::new();
            for (i, w) in widths.iter().enumerate() {
                let c = r.get(i).map_or("", String::as_str);
                let pad = w - c.chars().count();
                let last = i + 1 == n;
                if self.right[i] {
                    let _ = write!(line, "{}{c}", " ".repeat(pad));
                } else if last {
                    line.push_str(c);
                } else {
                    let _ = write!(line, "{c}{}", " ".repeat(pad));
                }
                if !last {
                    line.push_str("  ");
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// `0.0123` → `1.2%`.
pub fn percent(ratio: f64) -> String {
    format!("{:.1}%", ratio * 100.0)
}

/// Milliseconds, with a precision that suits their size.
pub fn ms(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}ms")
    } else if v >= 1.0 {
        format!("{v:.1}ms")
    } else {
        format!("{v:.2}ms")
    }
}

/// Seconds as `1h02m`, `3m05s` or `4.2s`.
pub fn age(secs: f64) -> String {
    let s = secs.max(0.0);
    if s >= 3600.0 {
        format!(
            "{}h{:02}m",
            (s / 3600.0) as u64,
            ((s % 3600.0) / 60.0) as u64
        )
    } else if s >= 60.0 {
        format!("{}m{:02}s", (s / 60.0) as u64, (s % 60.0) as u64)
    } else {
        format!("{s:.1}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligns_columns() {
        let mut t = Table::new(&["NAME", ">RATE", "NOTE"]);
        t.row(vec!["a".into(), "1.5".into(), "x".into()]);
        t.row(vec!["long-name".into(), "120.0".into(), String::new()]);
        assert_eq!(
            t.render(),
            "NAME        RATE  NOTE\na            1.5  x\nlong-name  120.0\n"
        );
        assert_eq!(percent(0.125), "12.5%");
        assert_eq!(ms(0.5), "0.50ms");
        assert_eq!(ms(12.34), "12.3ms");
        assert_eq!(age(3725.0), "1h02m");
        assert_eq!(age(65.0), "1m05s");
    }
}
