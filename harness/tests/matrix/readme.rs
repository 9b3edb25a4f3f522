//! The matrix in README.md is generated (`scripts/readme-matrix.sh`), and this
//! test keeps it true: every cell's verdict must be the one the catalog (methods)
//! or the peer expectations (real supervisors) give today, every scenario must
//! have its row, and no cell may be marked unexpected. Latencies vary from run to
//! run and are not checked; a changed expectation without a regenerated README
//! fails here.

use std::str::FromStr;

use teardown::{Method, Verdict};

const BEGIN: &str = "<!-- matrix:begin";
const END: &str = "<!-- matrix:end -->";

/// The escape-proof methods, judged `clean` on random trees.
const ESCAPE_PROOF: [Method; 4] = [
    Method::ProcWalk,
    Method::Cgroup,
    Method::Pidns,
    Method::Auto,
];

fn readme_matrix() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md");
    let text = std::fs::read_to_string(path).expect("README.md");
    let start = text
        .find(BEGIN)
        .expect("README.md has the matrix:begin marker");
    let end = text.find(END).expect("README.md has the matrix:end marker");
    text[start..end].to_owned()
}

/// The table's rows, split into trimmed cells (header first), separator dropped.
fn table(block: &str) -> Vec<Vec<String>> {
    block
        .lines()
        .filter(|l| l.starts_with('|') && !l.starts_with("|---"))
        .map(|l| {
            l.trim_matches('|')
                .split('|')
                .map(|c| c.trim().to_owned())
                .collect()
        })
        .collect()
}

/// The verdict of a cell like `leak 4.7ms`, `hang`, or `**clean!** 2ms`, and
/// whether it is marked unexpected.
fn verdict(cell: &str) -> (Verdict, bool) {
    let word = cell.split_whitespace().next().unwrap_or("");
    let marked = word.contains('!');
    let word = word.trim_matches(|c| c == '*' || c == '!');
    let v = Verdict::from_str(word).unwrap_or_else(|_| panic!("not a verdict: {cell:?}"));
    (v, marked)
}

/// Checks a README matrix block: the first disagreement with the catalog or the
/// peer expectations, or how many cells were checked.
fn check(block: &str) -> Result<usize, String> {
    let rows = table(block);
    let header = &rows[0];
    if header[0] != "scenario" {
        return Err(format!("not the matrix header: {header:?}"));
    }
    let mut seen_scenarios = Vec::new();
    let mut checked = 0;
    for row in &rows[1..] {
        if row.len() != header.len() {
            return Err(format!(
                "{row:?}: {} cells, header has {}",
                row.len(),
                header.len()
            ));
        }
        let name = row[0].trim_matches('`');
        let scenario = teardown_scenarios::by_name(name).ok();
        match scenario {
            Some(_) => seen_scenarios.push(name.to_owned()),
            None if name.starts_with("random-") => {}
            None => return Err(format!("unknown tree {name:?}")),
        }
        for (col, cell) in header.iter().zip(row).skip(1) {
            let (got, marked) = verdict(cell);
            if marked {
                return Err(format!("{name} × {col}: marked unexpected"));
            }
            let expected = match (col.parse::<Method>(), scenario) {
                (Ok(m), Some(s)) => Some(s.expected(m)),
                (Ok(m), None) if ESCAPE_PROOF.contains(&m) => {
                    Some(teardown_scenarios::Expect::clean())
                }
                (Ok(_), None) => None,
                (Err(_), _) => teardown_scenarios::peers::by_name(col)
                    .map_err(|e| format!("column {col:?}: {e}"))?
                    .expected(name),
            };
            if let Some(e) = expected {
                if !e.accepts(got) {
                    return Err(format!("{name} × {col}: README says {got}, expected {e}"));
                }
                checked += 1;
            }
        }
    }
    let catalog: Vec<String> = teardown_scenarios::names().map(str::to_owned).collect();
    if seen_scenarios != catalog {
        return Err(format!("rows {seen_scenarios:?}, catalog {catalog:?}"));
    }
    if !block.contains(" 0 unexpected,") {
        return Err("the summary line does not say 0 unexpected".into());
    }
    Ok(checked)
}

#[test]
fn the_readme_matrix_agrees_with_the_catalog_and_the_peer_expectations() {
    match check(&readme_matrix()) {
        Ok(n) => assert!(n > 200, "only {n} cells checked"),
        Err(e) => panic!("README.md's matrix: {e}; regenerate it with scripts/readme-matrix.sh"),
    }
}

#[test]
fn the_readme_matrix_check_catches_a_wrong_cell_and_a_missing_row() {
    let block = readme_matrix();
    let rows = table(&block);
    let col = rows[0].iter().position(|h| h == "killpg").unwrap();
    let line = block
        .lines()
        .find(|l| l.starts_with("| `setsid-escape` |"))
        .expect("a setsid-escape row");
    let mut cells: Vec<&str> = line.trim_matches('|').split('|').collect();
    cells[col] = " clean 1ms ";
    let wrong = block.replace(line, &format!("|{}|", cells.join("|")));
    let err = check(&wrong).expect_err("killpg × setsid-escape cannot be clean");
    assert!(err.contains("setsid-escape × killpg"), "{err}");
    let missing = block.replace(&format!("{line}\n"), "");
    assert!(
        check(&missing)
            .expect_err("a row is gone")
            .contains("catalog")
    );
}
