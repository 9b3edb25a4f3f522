//! The terminal table (`--format table`).
//!
//! **Transposed:** one line per tree, one column per supervisor. Nineteen scenario
//! columns (plus random trees) do not fit a terminal, while eight to fifteen
//! supervisor columns do, and scenario names read well as row labels. When the
//! supervisors still do not fit the terminal width, the table is printed in blocks of
//! columns, each block repeating the tree names.
//!
//! A cell is the verdict word and the drain latency (`leak 412µs`); a `!` after the
//! word marks a verdict that is not the expected one (`clean!`); a shard's table
//! shows the cells other shards run as [`NOT_HERE`]. On a terminal, and
//! unless `NO_COLOR` is set: green `clean`, yellow an expected weakness, bold red an
//! unexpected verdict, dim `unsupported`.

use std::fmt::Write;
use std::time::Duration;

use teardown::Verdict;

use crate::matrix::plan::Plan;
use crate::matrix::rows::Row;
use crate::matrix::run::{Cell, Report};

/// Replay lines longer than this (a 100-deep chain's spec) are left to the JSON.
const MAX_REPLAY_SHOWN: usize = 240;

/// The text of a cell another shard runs.
pub const NOT_HERE: &str = "·";

/// How to print.
#[derive(Clone, Copy, Debug, Default)]
pub struct TableStyle {
    /// ANSI colours.
    pub color: bool,
    /// Wrap supervisor columns into blocks that fit this many characters.
    pub width: Option<usize>,
}

/// The whole table with its legend, unsupported reasons, unexpected cells (with
/// their replay lines) and the summary line.
pub fn render(report: &Report, style: TableStyle) -> String {
    let plan = &report.plan;
    let mut out = String::new();
    let label_w = plan
        .columns
        .iter()
        .map(|c| c.name.chars().count())
        .max()
        .unwrap_or(0)
        .max("scenario".len());
    let texts: Vec<Vec<String>> = (0..plan.rows.len())
        .map(|r| {
            (0..plan.columns.len())
                .map(|c| report.get(r, c).map_or(NOT_HERE.to_owned(), cell_text))
                .collect()
        })
        .collect();
    let widths: Vec<usize> = plan
        .rows
        .iter()
        .zip(&texts)
        .map(|(row, cells)| {
            cells
                .iter()
                .map(|t| t.chars().count())
                .chain([row.header.chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();

    for block in blocks(&widths, label_w, style.width) {
        let _ = write!(out, "{:label_w$}", "scenario");
        for &r in &block {
            let _ = write!(out, "  {:w$}", plan.rows[r].header, w = widths[r]);
        }
        out.truncate(out.trim_end().len());
        out.push('\n');
        for (c, column) in plan.columns.iter().enumerate() {
            let _ = write!(out, "{:label_w$}", column.name);
            for &r in &block {
                let text = &texts[r][c];
                let pad = widths[r] - text.chars().count();
                let painted = match report.get(r, c) {
                    Some(cell) => paint(text, cell, style.color),
                    None => text.clone(),
                };
                let _ = write!(out, "  {painted}{}", " ".repeat(pad));
            }
            out.truncate(out.trim_end().len());
            out.push('\n');
        }
        out.push('\n');
    }

    out.push_str(&legend(report));
    out
}

/// The text after the table, shared with the markdown output (which wraps it).
fn legend(report: &Report) -> String {
    let plan = &report.plan;
    let hw = plan
        .rows
        .iter()
        .map(|r| r.header.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    out.push_str(
        "cell: verdict and drain latency (first kill signal to drained, as the supervisor reports it; \
         trigger to exit for external supervisors); `!` = not the expected verdict\n",
    );
    let externals = external_rows(plan);
    if !externals.is_empty() {
        out.push_str("supervisors:\n");
        for r in externals {
            let _ = writeln!(out, "  {:hw$}  {}", r.header, r.label);
        }
    }
    let unsupported = unsupported_rows(plan);
    if !unsupported.is_empty() {
        out.push_str("unsupported here:\n");
        for (r, reason) in unsupported {
            let _ = writeln!(out, "  {:hw$}  {reason}", r.header);
        }
    }
    let unexpected: Vec<&Cell> = report.unexpected().collect();
    if !unexpected.is_empty() {
        let _ = writeln!(out, "unexpected ({}):", unexpected.len());
        for c in unexpected {
            let _ = write!(out, "  {}", unexpected_line(plan, c, ""));
            if let Some(d) = &c.outcome.detail {
                let _ = write!(out, " ({d})");
            }
            let replay = plan.replay(c.row, c.col);
            if replay.chars().count() <= MAX_REPLAY_SHOWN {
                let _ = writeln!(out, "\n    replay: {replay}");
            } else {
                let _ = writeln!(
                    out,
                    "\n    replay: a {}-character line: see `replay` in --format json",
                    replay.chars().count()
                );
            }
        }
    }
    out.push_str(&summary_line(report));
    out.push('\n');
    out
}

/// The rows of external supervisors (their labels start with `external:`).
pub(crate) fn external_rows(plan: &Plan) -> Vec<&Row> {
    plan.rows
        .iter()
        .filter(|r| r.label.starts_with("external:"))
        .collect()
}

/// The rows that cannot run here, with why.
pub(crate) fn unsupported_rows(plan: &Plan) -> Vec<(&Row, &str)> {
    plan.rows
        .iter()
        .filter_map(|r| Some((r, r.available.as_ref().err()?.as_str())))
        .collect()
}

/// `row × tree: verdict, expected E` of an unexpected cell, the tree's name
/// between `quote`s.
pub(crate) fn unexpected_line(plan: &Plan, cell: &Cell, quote: &str) -> String {
    format!(
        "{} × {quote}{}{quote}: {}, expected {}",
        plan.rows[cell.row].label,
        plan.columns[cell.col].name,
        cell.verdict(),
        cell.expected.map(|e| e.to_string()).unwrap_or_default()
    )
}

/// `152 trials in 23.4 s (jobs 2): 150 as expected, 2 unexpected, 0 unjudged`;
/// a shard's: `51 of 152 trials (shard 1/3) in 8.1 s ...`; a merged report's:
/// `152 trials in 3 shards of 7.9–8.4 s (jobs 2) ...`.
pub fn summary_line(report: &Report) -> String {
    let s = report.summary();
    let plan = &report.plan;
    let (trials, took) = match (plan.shard, &report.parts[..]) {
        (Some(shard), _) => (
            format!("{} of {} trials (shard {shard})", s.trials, plan.len()),
            format!("in {:.1} s", report.elapsed.as_secs_f64()),
        ),
        (None, parts) if parts.len() > 1 => {
            let secs = |p: &crate::matrix::merge::Part| p.elapsed.as_secs_f64();
            let lo = parts.iter().map(secs).fold(f64::INFINITY, f64::min);
            let hi = parts.iter().map(secs).fold(0.0, f64::max);
            (
                format!("{} trials", s.trials),
                format!("in {} shards of {lo:.1}–{hi:.1} s", parts.len()),
            )
        }
        (None, _) => (
            format!("{} trials", s.trials),
            format!("in {:.1} s", report.elapsed.as_secs_f64()),
        ),
    };
    let mut line = format!(
        "{trials} {took} (jobs {}): {} as expected, {} unexpected, {} unjudged",
        plan.jobs, s.as_expected, s.unexpected, s.unjudged
    );
    if let Some(seed) = plan.seed {
        let _ = write!(line, "; random trees from seed {seed}");
    }
    line
}

/// A cell as plain text: `clean 1.2ms`, `leak! 412µs`, `hang`, `unsupported`.
pub fn cell_text(cell: &Cell) -> String {
    let mut s = cell.verdict().as_str().to_owned();
    if cell.as_expected() == Some(false) {
        s.push('!');
    }
    if let Some(d) = cell.outcome.drain {
        if !matches!(
            cell.verdict(),
            Verdict::Unsupported | Verdict::Error | Verdict::Hang
        ) {
            s.push(' ');
            s.push_str(&latency(d));
        }
    }
    s
}

/// A latency in three significant figures at most: `412µs`, `1.2ms`, `23ms`, `1.03s`.
pub fn latency(d: Duration) -> String {
    let us = d.as_micros();
    if us < 1_000 {
        format!("{us}µs")
    } else if us < 10_000 {
        format!("{:.1}ms", us as f64 / 1e3)
    } else if us < 1_000_000 {
        format!("{}ms", us / 1_000)
    } else {
        format!("{:.2}s", us as f64 / 1e6)
    }
}

fn paint(text: &str, cell: &Cell, color: bool) -> String {
    if !color {
        return text.to_owned();
    }
    let code = match (cell.verdict(), cell.as_expected()) {
        (_, Some(false)) => "1;31",
        (Verdict::Unsupported, _) => "2",
        (Verdict::Clean, _) => "32",
        (_, Some(true)) => "33",
        (_, None) => "1",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

/// Groups of supervisor (row) indices whose columns fit `width` beside the labels.
fn blocks(widths: &[usize], label_w: usize, width: Option<usize>) -> Vec<Vec<usize>> {
    let Some(width) = width else {
        return vec![(0..widths.len()).collect()];
    };
    let mut blocks: Vec<Vec<usize>> = Vec::new();
    let mut used = label_w;
    for (r, w) in widths.iter().enumerate() {
        match blocks.last_mut() {
            Some(block) if used + 2 + w <= width => block.push(r),
            _ => {
                blocks.push(vec![r]);
                used = label_w;
            }
        }
        used += 2 + w;
    }
    blocks
}

#[cfg(test)]
mod tests {
    use teardown::Method;

    use super::*;
    use crate::matrix::run::run_with;
    use crate::matrix::run::tests::{fake_plan, outcome};
    use crate::trial::{Supervisor, Trial};

    fn report() -> Report {
        let plan = fake_plan(
            &[
                Method::Leader,
                Method::Killpg,
                Method::Cgroup,
                Method::Pidns,
            ],
            &["aurae-534-sh-wrapper", "setsid-escape"],
        );
        // leader leaks everywhere (as expected); killpg is clean on the escape (not
        // as expected); pidns is clean.
        let runner = |t: &Trial| match t.supervisor {
            Supervisor::Method(Method::Leader) => outcome(Verdict::Leak, Some(412)),
            _ => outcome(Verdict::Clean, Some(1234)),
        };
        run_with(plan, &runner, &mut |_| {})
    }

    #[test]
    fn the_table_has_a_line_per_tree_and_a_column_per_supervisor() {
        let text = render(&report(), TableStyle::default());
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0].split_whitespace().collect::<Vec<_>>(),
            ["scenario", "leader", "killpg", "cgroup", "pidns"]
        );
        assert_eq!(
            lines[1].split_whitespace().collect::<Vec<_>>(),
            [
                "aurae-534-sh-wrapper",
                "leak",
                "412µs",
                "clean",
                "1.2ms",
                "unsupported",
                "clean",
                "1.2ms"
            ]
        );
        assert!(lines[2].starts_with("setsid-escape "), "{text}");
        assert!(lines[2].contains("clean! 1.2ms"), "{text}");
    }

    #[test]
    fn the_legend_lists_unsupported_rows_and_unexpected_cells_with_replay_lines() {
        let text = render(&report(), TableStyle::default());
        assert!(
            text.contains("unsupported here:\n  cgroup  no writable cgroup2 here\n"),
            "{text}"
        );
        assert!(
            text.contains("unexpected (1):\n  method:killpg × setsid-escape: clean, expected leak"),
            "{text}"
        );
        assert!(
            text.contains(
                "replay: teardown replay --method killpg --grace 250ms --deadline 3s --bystanders 1 'pause [fork: setsid pause]'"
            ),
            "{text}"
        );
        assert!(text.contains("8 trials in "), "{text}");
        assert!(
            text.contains("5 as expected, 1 unexpected, 2 unjudged"),
            "{text}"
        );
    }

    #[test]
    fn columns_wrap_into_blocks_that_fit_the_width() {
        let text = render(
            &report(),
            TableStyle {
                color: false,
                width: Some(50),
            },
        );
        let headers: Vec<&str> = text.lines().filter(|l| l.starts_with("scenario")).collect();
        assert!(headers.len() >= 2, "{text}");
        for line in text.lines().take_while(|l| !l.starts_with("cell:")) {
            assert!(line.chars().count() <= 50, "{line:?} is wider than 50");
        }
    }

    #[test]
    fn colour_marks_unexpected_cells_red_and_only_when_asked() {
        let plain = render(&report(), TableStyle::default());
        assert!(!plain.contains('\x1b'));
        let colored = render(
            &report(),
            TableStyle {
                color: true,
                width: None,
            },
        );
        assert!(
            colored.contains("\x1b[1;31mclean! 1.2ms\x1b[0m"),
            "{colored}"
        );
        assert!(colored.contains("\x1b[33mleak 412µs\x1b[0m"), "{colored}");
    }

    #[test]
    fn latency_keeps_three_figures() {
        assert_eq!(latency(Duration::from_micros(412)), "412µs");
        assert_eq!(latency(Duration::from_micros(1234)), "1.2ms");
        assert_eq!(latency(Duration::from_micros(23_456)), "23ms");
        assert_eq!(latency(Duration::from_micros(1_034_000)), "1.03s");
    }

    #[test]
    fn a_replay_line_too_long_to_read_is_left_to_the_json() {
        let plan = fake_plan(&[Method::Killpg], &["deep-chain"]);
        let report = run_with(
            plan,
            &|_: &Trial| outcome(Verdict::Error, None),
            &mut |_| {},
        );
        let text = render(&report, TableStyle::default());
        assert!(text.contains("replay: a "), "{text}");
        assert!(
            text.contains("-character line: see `replay` in --format json"),
            "{text}"
        );
        assert!(!text.contains("[fork: pause [fork: pause"), "{text}");
    }
}
