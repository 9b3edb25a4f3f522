//! The markdown table (`--format markdown`), for README files and reports.
//!
//! Same layout as the terminal table (one line per tree, one column per
//! supervisor), never wrapped; unexpected cells in bold with a `!`. After the table:
//! the external supervisors' full command lines, unsupported rows, **why every
//! expected non-clean cell is not clean** (the notes of the catalog and the peers,
//! grouped per supervisor, with their sources), and the unexpected cells with their
//! replay lines.

use std::fmt::Write;

use crate::matrix::rows::Judge;
use crate::matrix::run::Report;
use crate::matrix::table::{
    NOT_HERE, cell_text, external_rows, summary_line, unexpected_line, unsupported_rows,
};

/// The whole markdown document fragment.
pub fn render(report: &Report) -> String {
    let plan = &report.plan;
    let mut out = String::new();
    out.push_str("| scenario |");
    for r in &plan.rows {
        let _ = write!(out, " {} |", escape(&r.header));
    }
    out.push_str("\n|---|");
    for _ in &plan.rows {
        out.push_str("---|");
    }
    out.push('\n');
    for (c, col) in plan.columns.iter().enumerate() {
        let _ = write!(out, "| `{}` |", col.name);
        for r in 0..plan.rows.len() {
            let Some(cell) = report.get(r, c) else {
                let _ = write!(out, " {NOT_HERE} |");
                continue;
            };
            let text = escape(&cell_text(cell));
            if cell.as_expected() == Some(false) {
                let _ = write!(out, " **{text}** |");
            } else {
                let _ = write!(out, " {text} |");
            }
        }
        out.push('\n');
    }
    out.push('\n');
    out.push_str(
        "Cell: verdict and drain latency (first kill signal to drained, as the supervisor reports it; \
         trigger to exit for external supervisors). **Bold** with `!`: not the expected verdict.\n\n",
    );

    let externals = external_rows(plan);
    if !externals.is_empty() {
        out.push_str("Supervisors:\n\n");
        for r in externals {
            let argv = r.label.strip_prefix("external:").unwrap_or(&r.label);
            let _ = writeln!(out, "* **{}**: `{}`", escape(&r.header), argv);
        }
        out.push('\n');
    }
    let unsupported = unsupported_rows(plan);
    if !unsupported.is_empty() {
        out.push_str("Unsupported here:\n\n");
        for (r, reason) in unsupported {
            let _ = writeln!(out, "* **{}**: {}", escape(&r.header), escape(reason));
        }
        out.push('\n');
    }

    let notes = notes(report);
    if !notes.is_empty() {
        out.push_str("Why the expected non-clean cells are not clean:\n\n");
        out.push_str(&notes);
        out.push('\n');
    }

    let unexpected: Vec<_> = report.unexpected().collect();
    if !unexpected.is_empty() {
        let _ = writeln!(out, "Unexpected ({}):\n", unexpected.len());
        for c in unexpected {
            let _ = writeln!(
                out,
                "* {}{} — replay: `{}`",
                unexpected_line(plan, c, "`"),
                c.outcome
                    .detail
                    .as_ref()
                    .map(|d| format!(" ({})", escape(d)))
                    .unwrap_or_default(),
                plan.replay(c.row, c.col)
            );
        }
        out.push('\n');
    }
    out.push_str(&summary_line(report));
    out.push('\n');
    out
}

/// Per supervisor, each distinct note with the trees it applies to.
fn notes(report: &Report) -> String {
    let plan = &report.plan;
    let mut out = String::new();
    for (r, row) in plan.rows.iter().enumerate() {
        if row.available.is_err() {
            continue;
        }
        let mut by_note: Vec<(&str, Vec<&str>)> = Vec::new();
        for c in 0..plan.columns.len() {
            if report.get(r, c).is_none() {
                continue; // another shard's cell
            }
            let Some(note) = plan.expected(r, c).and_then(|e| e.note()) else {
                continue;
            };
            match by_note.iter_mut().find(|(n, _)| *n == note) {
                Some((_, names)) => names.push(&plan.columns[c].name),
                None => by_note.push((note, vec![&plan.columns[c].name])),
            }
        }
        if by_note.is_empty() {
            continue;
        }
        let _ = writeln!(out, "* **{}**", escape(&row.header));
        for (note, names) in by_note {
            let names: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
            let _ = writeln!(out, "  * {}: {}", names.join(", "), escape(note));
        }
        if let Judge::Peer(peer) = row.judge {
            for s in peer.sources {
                let _ = writeln!(out, "  * see [{}]({})", escape(s.label), s.url);
            }
        }
    }
    out
}

fn escape(s: &str) -> String {
    s.replace('|', "\\|")
}

#[cfg(test)]
mod tests {
    use teardown::{Method, Verdict};

    use super::*;
    use crate::matrix::run::run_with;
    use crate::matrix::run::tests::{fake_plan, outcome};
    use crate::trial::{Supervisor, Trial};

    #[test]
    fn the_markdown_table_bolds_unexpected_cells_and_explains_expected_failures() {
        let plan = fake_plan(
            &[Method::Leader, Method::Killpg],
            &["setsid-escape", "double-fork"],
        );
        let runner = |t: &Trial| match t.supervisor {
            Supervisor::Method(Method::Leader) => outcome(Verdict::Leak, Some(412)),
            _ => outcome(Verdict::Clean, Some(1234)),
        };
        let text = render(&run_with(plan, &runner, &mut |_| {}));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "| scenario | leader | killpg |");
        assert_eq!(lines[1], "|---|---|---|");
        assert_eq!(
            lines[2],
            "| `setsid-escape` | leak 412µs | **clean! 1.2ms** |"
        );
        assert_eq!(lines[3], "| `double-fork` | leak 412µs | clean 1.2ms |");
        assert!(
            text.contains(
                "* **leader**\n  * `setsid-escape`, `double-fork`: only the leader is signalled"
            ),
            "{text}"
        );
        assert!(
            text.contains("* **killpg**\n  * `setsid-escape`: the process left the group"),
            "{text}"
        );
        assert!(
            text.contains("replay: `teardown replay --method killpg --grace 250ms --deadline 3s --bystanders 1 'pause [fork: setsid pause]'`"),
            "{text}"
        );
    }
}
