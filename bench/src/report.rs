//! Turning measurements into the table (plain text and Markdown), and the regression check
//! against a stored baseline.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One cell: a number, a bound (the server ran out of time: the true value is worse than
/// `bound`), or not applicable.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Val {
    Num {
        value: f64,
    },
    Beyond {
        bound: f64,
        shown: String,
    },
    /// A lower bound of a figure where higher is better (e.g. a ratio against a peer that timed out).
    AtLeast {
        value: f64,
    },
    Na {
        reason: String,
    },
    NotRun,
}

impl Val {
    pub fn num(v: f64) -> Val {
        Val::Num { value: v }
    }
    pub fn na(r: impl Into<String>) -> Val {
        Val::Na { reason: r.into() }
    }
    pub fn value(&self) -> Option<f64> {
        match self {
            Val::Num { value } => Some(*value),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Better {
    Higher,
    Lower,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    ObjPerS,
    Ms,
    Times,
    Percent,
    Mb,
    BytesPerObject,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Target {
    pub value: f64,
    pub text: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Row {
    pub key: String,
    pub label: String,
    pub unit: Unit,
    pub better: Better,
    pub hub: Val,
    pub medallion: Val,
    pub opentaxii: Val,
    pub target: Option<Target>,
    /// Compared with the baseline in quick mode.
    pub regression: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Section {
    pub title: String,
    pub rows: Vec<Row>,
}

pub fn fmt_num(v: f64, unit: Unit) -> String {
    match unit {
        Unit::ObjPerS => format!("{}/s", thousands(v.round() as i64)),
        Unit::Ms => {
            if v < 10.0 {
                format!("{v:.2} ms")
            } else if v < 1000.0 {
                format!("{v:.1} ms")
            } else {
                format!("{:.2} s", v / 1000.0)
            }
        }
        Unit::Times => {
            if v >= 100.0 {
                format!("{}×", thousands(v.round() as i64))
            } else {
                format!("{v:.2}×")
            }
        }
        Unit::Percent => format!("{v:+.1}%"),
        Unit::Mb => format!("{v:.0} MB"),
        Unit::BytesPerObject => format!("{} B", thousands(v.round() as i64)),
    }
}

pub fn thousands(n: i64) -> String {
    let s = n.abs().to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

fn ratio_text(x: f64) -> String {
    if x >= 100.0 {
        format!("{}×", thousands(x.round() as i64))
    } else if x >= 10.0 {
        format!("{x:.0}×")
    } else {
        format!("{x:.2}×")
    }
}

/// How much better the hub is than a peer (> 1: the hub is better), as text.
pub fn advantage(row: &Row, peer: &Val) -> String {
    let hub = match row.hub.value() {
        Some(v) if v > 0.0 => v,
        _ => return "–".into(),
    };
    match peer {
        Val::Num { value } if *value > 0.0 => ratio_text(match row.better {
            Better::Higher => hub / value,
            Better::Lower => value / hub,
        }),
        Val::Num { .. } => "–".into(),
        // The peer is worse than its bound: the advantage is at least the bound's.
        Val::Beyond { bound, .. } if *bound > 0.0 => format!(
            "> {}",
            ratio_text(match row.better {
                Better::Higher => hub / bound,
                Better::Lower => bound / hub,
            })
        ),
        _ => "–".into(),
    }
}

/// Achieved ÷ required, oriented so that ≥ 1 means the target is met.
pub fn versus_target(row: &Row) -> String {
    let Some(t) = &row.target else { return String::new() };
    match &row.hub {
        // Percentages (the TLP cost) are compared in points, not as a ratio.
        Val::Num { value } if row.unit == Unit::Percent => {
            if *value <= t.value {
                "met".into()
            } else {
                format!("MISSED (+{:.1} pts)", value - t.value)
            }
        }
        Val::Num { value } => {
            let v = *value;
            let (r, met) = match row.better {
                Better::Higher => (v / t.value, v >= t.value),
                Better::Lower => {
                    if v <= 0.0 {
                        return "met".into();
                    }
                    (t.value / v, v <= t.value)
                }
            };
            format!("{} {}", ratio_text(r), if met { "met" } else { "MISSED" })
        }
        Val::Beyond { .. } => "MISSED".into(),
        Val::AtLeast { value } => {
            if *value >= t.value {
                format!("> {} met", ratio_text(value / t.value))
            } else {
                format!("> {} (undecided)", ratio_text(value / t.value))
            }
        }
        _ => String::new(),
    }
}

struct Footnotes {
    list: Vec<String>,
}

impl Footnotes {
    fn mark(&mut self, reason: &str) -> usize {
        if let Some(i) = self.list.iter().position(|r| r == reason) {
            return i + 1;
        }
        self.list.push(reason.to_string());
        self.list.len()
    }
}

fn cell(v: &Val, unit: Unit, notes: &mut Footnotes) -> String {
    match v {
        Val::Num { value } => fmt_num(*value, unit),
        Val::Beyond { shown, .. } => shown.clone(),
        Val::AtLeast { value } => format!("> {}", fmt_num(*value, unit)),
        Val::Na { reason } => format!("n/a [{}]", notes.mark(reason)),
        Val::NotRun => "–".into(),
    }
}

const HEAD: [&str; 8] = [
    "workload",
    "taxii-hub",
    "medallion",
    "OpenTAXII",
    "hub ÷ medallion",
    "hub ÷ OpenTAXII",
    "target",
    "hub vs target",
];

fn grid(sections: &[Section]) -> (Vec<Vec<Vec<String>>>, Vec<String>) {
    let mut notes = Footnotes { list: Vec::new() };
    let mut out = Vec::new();
    for s in sections {
        let mut rows = Vec::new();
        for r in &s.rows {
            rows.push(vec![
                r.label.clone(),
                cell(&r.hub, r.unit, &mut notes),
                cell(&r.medallion, r.unit, &mut notes),
                cell(&r.opentaxii, r.unit, &mut notes),
                advantage(r, &r.medallion),
                advantage(r, &r.opentaxii),
                r.target.as_ref().map(|t| t.text.clone()).unwrap_or_default(),
                versus_target(r),
            ]);
        }
        out.push(rows);
    }
    (out, notes.list)
}

/// Plain-text table with aligned columns.
pub fn text_table(sections: &[Section]) -> String {
    let (cells, notes) = grid(sections);
    let mut width: Vec<usize> = HEAD.iter().map(|h| h.chars().count()).collect();
    for rows in &cells {
        for r in rows {
            for (i, c) in r.iter().enumerate() {
                width[i] = width[i].max(c.chars().count());
            }
        }
    }
    let line = |r: &[String]| -> String {
        r.iter()
            .enumerate()
            .map(|(i, c)| {
                let pad = width[i] - c.chars().count();
                if i == 0 {
                    format!("{c}{}", " ".repeat(pad))
                } else {
                    format!("{}{c}", " ".repeat(pad))
                }
            })
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let total: usize = width.iter().sum::<usize>() + 2 * (width.len() - 1);
    let mut out = String::new();
    out += &line(&HEAD.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    out.push('\n');
    for (s, rows) in sections.iter().zip(&cells) {
        out += &format!("{}\n", "-".repeat(total));
        out += &format!("{}\n", s.title);
        for r in rows {
            out += &line(r);
            out.push('\n');
        }
    }
    out += &format!("{}\n", "-".repeat(total));
    for (i, n) in notes.iter().enumerate() {
        out += &format!("[{}] {n}\n", i + 1);
    }
    out
}

pub fn markdown_table(sections: &[Section]) -> String {
    let (cells, notes) = grid(sections);
    let mut out = format!("| {} |\n|{}\n", HEAD.join(" | "), "---|".repeat(HEAD.len()));
    for (s, rows) in sections.iter().zip(&cells) {
        out += &format!("| **{}** |{}\n", s.title, " |".repeat(HEAD.len() - 1));
        for r in rows {
            out += &format!("| {} |\n", r.iter().map(|c| c.replace('|', "\\|")).collect::<Vec<_>>().join(" | "));
        }
    }
    if !notes.is_empty() {
        out.push('\n');
        for (i, n) in notes.iter().enumerate() {
            out += &format!("[{}] {n}  \n", i + 1);
        }
    }
    out
}

// ---- regression check --------------------------------------------------------------------------

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Metric {
    pub value: f64,
    pub better: Better,
    pub unit: Unit,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub runs: Vec<f64>,
}

/// The hub's figures that the regression check compares.
pub fn regression_metrics(sections: &[Section]) -> BTreeMap<String, Metric> {
    sections
        .iter()
        .flat_map(|s| s.rows.iter())
        .filter(|r| r.regression)
        .filter_map(|r| {
            r.hub
                .value()
                .map(|v| (r.key.clone(), Metric { value: v, better: r.better, unit: r.unit, runs: Vec::new() }))
        })
        .collect()
}

/// Per metric, the better of two measurements.
pub fn best_of(a: &BTreeMap<String, Metric>, b: &BTreeMap<String, Metric>) -> BTreeMap<String, Metric> {
    let mut out = b.clone();
    for (k, m) in a {
        match out.get_mut(k) {
            None => {
                out.insert(k.clone(), m.clone());
            }
            Some(cur) => {
                let better = match m.better {
                    Better::Higher => m.value > cur.value,
                    Better::Lower => m.value < cur.value,
                };
                if better {
                    cur.value = m.value;
                }
            }
        }
    }
    out
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Baseline {
    pub mode: String,
    pub recorded: String,
    #[serde(default)]
    pub machine: serde_json::Value,
    #[serde(default)]
    pub from: Vec<String>,
    #[serde(default)]
    pub hub_commit: String,
    pub metrics: BTreeMap<String, Metric>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Check {
    pub key: String,
    pub baseline: f64,
    pub current: Option<f64>,
    /// current ÷ baseline for "higher is better", baseline ÷ current otherwise (< 1: worse).
    pub relative: Option<f64>,
    pub ok: bool,
    pub note: String,
}

/// Absolute slack below which a "lower is better" figure never counts as a regression
/// (1 ms → 2.1 ms on a loaded CI machine is noise, not a 2× regression). A p99 of a few hundred
/// polls on a shared 2-core machine moves by tens of milliseconds with the scheduler alone.
fn slack(key: &str, unit: Unit) -> f64 {
    if key.ends_with("p99") {
        return 25.0;
    }
    match unit {
        Unit::Ms => 2.0,
        Unit::Mb => 16.0,
        Unit::BytesPerObject => 64.0,
        Unit::Times => 0.25,
        Unit::Percent => 10.0,
        Unit::ObjPerS => 0.0,
    }
}

pub fn check(baseline: &Baseline, current: &BTreeMap<String, Metric>, tolerance: f64) -> Vec<Check> {
    let mut out = Vec::new();
    for (key, b) in &baseline.metrics {
        let cur = current.get(key).map(|m| m.value);
        let (relative, ok, note) = match cur {
            None => (None, false, "missing from this run".to_string()),
            Some(c) => match b.better {
                Better::Higher => {
                    let rel = c / b.value.max(1e-9);
                    (
                        Some(rel),
                        c * tolerance >= b.value,
                        format!("must stay ≥ {}", fmt_num(b.value / tolerance, b.unit)),
                    )
                }
                Better::Lower => {
                    let rel = b.value / c.max(1e-9);
                    let limit = (b.value * tolerance).max(b.value + slack(key, b.unit));
                    (Some(rel), c <= limit, format!("must stay ≤ {}", fmt_num(limit, b.unit)))
                }
            },
        };
        out.push(Check {
            key: key.clone(),
            baseline: b.value,
            current: cur,
            relative: relative.map(|r| (r * 1000.0).round() / 1000.0),
            ok,
            note,
        });
    }
    out
}

pub fn check_text(checks: &[Check], unit_of: &BTreeMap<String, Metric>) -> String {
    let mut out = String::new();
    for c in checks {
        let unit = unit_of.get(&c.key).map(|m| m.unit).unwrap_or(Unit::Times);
        out += &format!(
            "  {:<4} {:<34} baseline {:>12}  now {:>12}  ({})\n",
            if c.ok { "ok" } else { "FAIL" },
            c.key,
            fmt_num(c.baseline, unit),
            c.current.map(|v| fmt_num(v, unit)).unwrap_or_else(|| "–".into()),
            c.note
        );
    }
    out
}
