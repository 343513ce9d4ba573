//! The Prometheus text exposition format (version 0.0.4), written by hand:
//! `# HELP` and `# TYPE` per family, then one `name{labels} value` line per
//! sample, label values escaped. Shared by `serve` and `proxy`.

use std::fmt::Write as _;

/// The content type of the format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A metric family's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// A text being written.
#[derive(Debug, Default)]
pub struct Text {
    out: String,
}

impl Text {
    /// Starts a family: its help and type lines.
    pub fn family(&mut self, name: &str, kind: Kind, help: &str) {
        let kind = match kind {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        };
        let help = help.replace('\\', "\\\\").replace('\n', "\\n");
        let _ = writeln!(self.out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    /// One sample.
    pub fn sample(&mut self, name: &str, labels: &[(&str, String)], value: impl std::fmt::Display) {
        self.out.push_str(name);
        self.labels(labels);
        let _ = writeln!(self.out, " {value}");
    }

    /// A histogram's samples: cumulative `_bucket`s (bounds in nanoseconds,
    /// written in seconds; `counts` has one more, for +Inf), `_sum` in
    /// seconds and `_count`.
    pub fn histogram(&mut self, name: &str, labels: &[(&str, String)], bounds_ns: &[u64], counts: &[u64], sum: f64) {
        let mut total = 0;
        for (i, count) in counts.iter().enumerate() {
            total += count;
            let le = bounds_ns
                .get(i)
                .map_or_else(|| "+Inf".to_owned(), |&ns| (ns as f64 / 1e9).to_string());
            let mut with_le = labels.to_vec();
            with_le.push(("le", le));
            self.sample(&format!("{name}_bucket"), &with_le, total);
        }
        self.sample(&format!("{name}_sum"), labels, sum);
        self.sample(&format!("{name}_count"), labels, total);
    }

    fn labels(&mut self, labels: &[(&str, String)]) {
        if labels.is_empty() {
            return;
        }
        self.out.push('{');
        for (i, (name, value)) in labels.iter().enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            self.out.push_str(name);
            self.out.push_str("=\"");
            for c in value.chars() {
                match c {
                    '\\' => self.out.push_str("\\\\"),
                    '"' => self.out.push_str("\\\""),
                    '\n' => self.out.push_str("\\n"),
                    c => self.out.push(c),
                }
            }
            self.out.push('"');
        }
        self.out.push('}');
    }

    pub fn finish(self) -> String {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped_and_histograms_cumulative() {
        let mut t = Text::default();
        t.family("x_total", Kind::Counter, "Things.\nMore");
        t.sample("x_total", &[("path", "a\"b\\c\nd".to_owned())], 3);
        t.histogram("d_seconds", &[], &[1_000_000, 1_000_000_000], &[1, 2, 3], 4.5);
        assert_eq!(
            t.finish(),
            "# HELP x_total Things.\\nMore\n# TYPE x_total counter\nx_total{path=\"a\\\"b\\\\c\\nd\"} 3\n\
             d_seconds_bucket{le=\"0.001\"} 1\nd_seconds_bucket{le=\"1\"} 3\nd_seconds_bucket{le=\"+Inf\"} 6\n\
             d_seconds_sum 4.5\nd_seconds_count 6\n"
        );
    }
}
