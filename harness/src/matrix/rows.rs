//! The rows of the matrix: supervisors, resolved against this host — a method's
//! availability from the host probe, an external command's from `PATH` (and, for
//! the known peers, one bounded run of `true` under it).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use teardown::{Availability, Method, Probe};
use teardown_scenarios::Peer;

use crate::trial::Supervisor;

/// One row asked for.
#[derive(Clone, Debug)]
pub enum RowSpec {
    /// `teardown run --method M`, judged by the catalog.
    Method(Method),
    /// A known real supervisor, judged by its [`Peer`] expectations.
    Peer(&'static Peer),
    /// Any other command; the node command is appended to `argv`.
    External {
        /// The supervisor's argv prefix.
        argv: Vec<String>,
        /// `check`: every cell is expected `clean`. `matrix --supervisor`: not judged.
        expect_clean: bool,
    },
}

impl RowSpec {
    /// A `--supervisor` argv: the peer it names exactly, if any, else unjudged.
    pub fn supervisor(argv: Vec<String>) -> RowSpec {
        match teardown_scenarios::peers::by_argv(&argv) {
            Some(peer) => RowSpec::Peer(peer),
            None => RowSpec::External {
                argv,
                expect_clean: false,
            },
        }
    }
}

/// Who judges a row's cells.
#[derive(Clone, Copy, Debug)]
pub enum Judge {
    /// The catalog's expectation for this method; on random trees `clean` for the
    /// escape-proof methods and none for the weak ones.
    Method(Method),
    /// The peer's documented expectations; none on random trees.
    Peer(&'static Peer),
    /// Every cell must be `clean` (`teardown check`).
    Clean,
    /// Not judged: `expected: null`.
    Unjudged,
}

impl Judge {
    /// How the JSON names it (`judged_by`): `catalog`, `peer`, `clean`, `none`.
    pub fn name(self) -> &'static str {
        match self {
            Judge::Method(_) => "catalog",
            Judge::Peer(_) => "peer",
            Judge::Clean => "clean",
            Judge::Unjudged => "none",
        }
    }
}

/// One supervisor of the matrix.
#[derive(Clone, Debug)]
pub struct Row {
    /// The label every output uses: `method:killpg`, `external:tini -g --`.
    pub label: String,
    /// The short column header of the table: `killpg`, `tini-g`, `my-sup`.
    pub header: String,
    /// What the trials run (a leading `teardown` resolved to this project's binary).
    pub supervisor: Supervisor,
    /// An external supervisor's argv as given (empty for methods): what the label and
    /// the replay line show.
    pub argv: Vec<String>,
    /// `Err(reason)` if this row cannot run here: its cells are `unsupported`.
    pub available: Result<(), String>,
    /// Who judges the row.
    pub judge: Judge,
}

pub(crate) fn resolve_rows(specs: &[RowSpec], probe: &Probe) -> Vec<Row> {
    let mut rows: Vec<Row> = Vec::new();
    let mut push = |row: Row| {
        if !rows.iter().any(|r| r.label == row.label) {
            rows.push(row);
        }
    };
    for spec in specs {
        match spec {
            RowSpec::Method(m) => push(method_row(*m, probe)),
            RowSpec::Peer(p) => {
                let argv: Vec<String> = p.argv.iter().map(|s| (*s).to_owned()).collect();
                let (supervisor, available) = external(&argv, true);
                push(Row {
                    label: p.label(),
                    header: p.name.to_owned(),
                    supervisor,
                    argv,
                    available,
                    judge: Judge::Peer(p),
                });
            }
            RowSpec::External { argv, expect_clean } => {
                let (supervisor, available) = external(argv, false);
                push(Row {
                    label: format!("external:{}", argv.join(" ")),
                    header: header_of(argv),
                    supervisor,
                    argv: argv.clone(),
                    available,
                    judge: if *expect_clean {
                        Judge::Clean
                    } else {
                        Judge::Unjudged
                    },
                });
            }
        }
    }
    disambiguate_headers(&mut rows);
    rows
}

/// The row of method `m`, available as `probe` says.
pub(crate) fn method_row(m: Method, probe: &Probe) -> Row {
    let available = match probe.methods.iter().find(|(pm, _)| *pm == m) {
        Some((_, Availability::Available)) => Ok(()),
        Some((_, Availability::Unsupported { reason })) => Err(reason.clone()),
        None => Err("not reported by the host probe".to_owned()),
    };
    Row {
        label: Supervisor::Method(m).label(),
        header: m.name().to_owned(),
        supervisor: Supervisor::Method(m),
        argv: Vec::new(),
        available,
        judge: Judge::Method(m),
    }
}

/// The header of an ad-hoc external supervisor: its program's file name.
fn header_of(argv: &[String]) -> String {
    let program = argv
        .first()
        .map_or("external", |p| p.rsplit('/').next().unwrap_or(p));
    program.to_owned()
}

fn disambiguate_headers(rows: &mut [Row]) {
    for i in 1..rows.len() {
        let mut n = 1;
        let base = rows[i].header.clone();
        while rows[..i].iter().any(|r| r.header == rows[i].header) {
            n += 1;
            rows[i].header = format!("{base}#{n}");
        }
    }
}

/// Resolves an external supervisor's argv (a leading `teardown` is this project's
/// binary) and says whether it runs here. `smoke`: also run it once with `true` as
/// the command (peers: "where it runs" — bwrap needs namespaces).
fn external(argv: &[String], smoke: bool) -> (Supervisor, Result<(), String>) {
    let mut resolved = argv.to_vec();
    let program = match argv.first() {
        Some(p) if p == "teardown" => match crate::matrix::teardown_bin() {
            Some(bin) => bin,
            None => {
                return (
                    Supervisor::External(resolved),
                    Err("the teardown binary was not found (set TEARDOWN_BIN)".to_owned()),
                );
            }
        },
        Some(p) => match which(p) {
            Some(bin) => bin,
            None => {
                return (
                    Supervisor::External(resolved),
                    Err(format!("{p} is not installed (not found on PATH)")),
                );
            }
        },
        None => {
            return (
                Supervisor::External(resolved),
                Err("empty command".to_owned()),
            );
        }
    };
    if argv[0] == "teardown" {
        resolved[0] = program.to_string_lossy().into_owned();
    }
    let available = if smoke {
        smoke_test(&program, &resolved[1..])
    } else {
        Ok(())
    };
    (Supervisor::External(resolved), available)
}

/// `argv` with a leading `teardown` replaced by this project's binary when it can
/// be found, as the matrix runs a row's supervisor (and replay lines show it).
pub fn resolve_teardown(argv: &[String]) -> Vec<String> {
    let mut resolved = argv.to_vec();
    if resolved.first().is_some_and(|p| p == "teardown")
        && let Some(bin) = crate::matrix::teardown_bin()
    {
        resolved[0] = bin.to_string_lossy().into_owned();
    }
    resolved
}

/// Runs `program args... true` once, bounded, and requires exit status 0.
/// How long `true` may take under a peer in the smoke test (supervisord needs
/// a second or two to start, and more on a busy machine).
const SMOKE_DEADLINE: Duration = Duration::from_secs(15);

fn smoke_test(program: &Path, args: &[String]) -> Result<(), String> {
    let Some(truth) = which("true") else {
        return Ok(());
    };
    let mut child = Command::new(program)
        .args(args)
        .arg(&truth)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{} does not start: {e}", program.display()))?;
    let deadline = Instant::now() + SMOKE_DEADLINE;
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => {
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    use std::io::Read;
                    let _ = e.read_to_string(&mut err);
                }
                let first = err.lines().next().unwrap_or("").trim();
                return Err(format!("does not run here ({status}): {first}"));
            }
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err("does not run here: `true` under it did not finish in 15 s".to_owned());
            }
            Err(e) => return Err(format!("does not run here: {e}")),
        }
    }
}

/// `program` as `execvp` would find it.
pub(crate) fn which(program: &str) -> Option<PathBuf> {
    if program.contains('/') {
        let p = PathBuf::from(program);
        return is_executable(&p).then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}
#[cfg(test)]
pub(crate) mod tests {
    use teardown::HostFacts;

    use super::*;

    /// A probe where every method is available but `cgroup`.
    pub(crate) fn fake_probe() -> Probe {
        let host: HostFacts = serde_json::from_value(serde_json::json!({
            "kernel": "6.18.0-test", "euid": 0, "cgroup2_mount": null, "own_cgroup": null,
            "pidfd": true, "subreaper": true, "user_namespaces": true, "shim": null
        }))
        .unwrap();
        Probe {
            host,
            methods: Method::ALL
                .into_iter()
                .map(|m| {
                    let a = if m == Method::Cgroup {
                        Availability::Unsupported {
                            reason: "no writable cgroup2 here".into(),
                        }
                    } else {
                        Availability::Available
                    };
                    (m, a)
                })
                .collect(),
            auto: Some(Method::Pidns),
        }
    }

    #[test]
    fn method_rows_take_their_availability_from_the_probe() {
        let rows = resolve_rows(
            &[
                RowSpec::Method(Method::Killpg),
                RowSpec::Method(Method::Cgroup),
            ],
            &fake_probe(),
        );
        assert_eq!(rows[0].label, "method:killpg");
        assert!(rows[0].available.is_ok());
        assert_eq!(
            rows[1].available,
            Err("no writable cgroup2 here".to_owned())
        );
    }

    #[test]
    fn a_missing_external_is_unavailable_with_a_reason() {
        let argv = vec!["no-such-supervisor-xyz".to_owned(), "--".to_owned()];
        let rows = resolve_rows(
            &[RowSpec::External {
                argv,
                expect_clean: true,
            }],
            &fake_probe(),
        );
        assert_eq!(rows[0].label, "external:no-such-supervisor-xyz --");
        assert!(
            rows[0]
                .available
                .as_ref()
                .unwrap_err()
                .contains("not installed")
        );
    }

    #[test]
    fn duplicate_rows_are_dropped_and_headers_disambiguated() {
        let a = RowSpec::External {
            argv: vec!["/bin/sh".into(), "-c".into()],
            expect_clean: false,
        };
        let b = RowSpec::External {
            argv: vec!["sh".into()],
            expect_clean: false,
        };
        let rows = resolve_rows(&[a.clone(), b, a], &fake_probe());
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].header, "sh");
        assert_eq!(rows[1].header, "sh#2");
    }

    #[test]
    fn a_supervisor_argv_that_names_a_peer_is_judged_as_that_peer() {
        assert!(
            matches!(RowSpec::supervisor(vec!["tini".into(), "--".into()]), RowSpec::Peer(p) if p.name == "tini")
        );
        assert!(matches!(
            RowSpec::supervisor(vec!["my-sup".into()]),
            RowSpec::External {
                expect_clean: false,
                ..
            }
        ));
    }
}
