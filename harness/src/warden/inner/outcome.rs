//! The trial's outcome: the judgement, the report and why, in one record.

use std::io::{Read, Seek};

use teardown::Verdict;

use super::{Run, Stop};
use crate::oracle::{self, FindingKind};
use crate::trial::{Supervisor, TrialOutcome};
use crate::wire::RunReport;

impl Run<'_> {
    /// The last lines the supervisor (and the tree) wrote on stdout/stderr.
    pub(super) fn sup_tail(&self) -> String {
        let Some(sup) = &self.sup else {
            return String::new();
        };
        let mut log = &sup.log;
        let mut text = String::new();
        if log.rewind().is_err() || log.read_to_string(&mut text).is_err() {
            return String::new();
        }
        let backtrace = |l: &str| {
            let l = l.trim();
            l.is_empty()
                || l.starts_with("at ")
                || l.starts_with("stack backtrace")
                || l.starts_with("note: ")
                || l.split_once(':')
                    .is_some_and(|(n, _)| n.chars().all(|c| c.is_ascii_digit()))
        };
        let lines: Vec<&str> = text.lines().filter(|l| !backtrace(l)).collect();
        let tail = lines[lines.len().saturating_sub(3)..].join(" | ");
        let status = sup
            .status
            .map(|s| format!("; supervisor exited {s}"))
            .unwrap_or_default();
        if tail.is_empty() {
            status
        } else {
            format!("{status}; supervisor said: {tail}")
        }
    }

    pub(super) fn outcome(&self, stop: Option<Stop>) -> TrialOutcome {
        let mut out = match &self.judgement {
            Some(j) => j.clone().into_outcome(None),
            None => oracle::error_outcome(String::new()),
        };
        out.nodes = self.records.values().copied().collect();
        let mut detail = Vec::new();
        match &self.report {
            Some(RunReport::Drained(d)) => {
                out.drain = Some(d.drain);
                out.report = Some(d.clone());
            }
            Some(RunReport::Unsupported { unsupported }) if stop.is_none() => {
                out.verdict = oracle::worst(out.verdict, Verdict::Unsupported);
                detail.push(unsupported.clone());
            }
            Some(RunReport::Failed { error }) if stop.is_none() => {
                out.verdict = oracle::worst(out.verdict, Verdict::Error);
                detail.push(format!("teardown run failed: {error}"));
            }
            None if stop.is_none() && matches!(self.trial.supervisor, Supervisor::Method(_)) => {
                out.verdict = oracle::worst(out.verdict, Verdict::Error);
                detail.push(format!(
                    "teardown run exited without a drain report{}",
                    self.sup_tail()
                ));
            }
            _ => {}
        }
        if out.drain.is_none()
            && let (Some(t), Some(d)) = (self.trigger_at, self.done_at)
        {
            out.drain = Some(d.saturating_duration_since(t));
        }
        match stop {
            Some(s) => {
                out.verdict = oracle::worst(
                    if self.judgement.is_some() {
                        out.verdict
                    } else {
                        s.verdict
                    },
                    s.verdict,
                );
                detail.insert(0, s.detail);
            }
            None => {
                let j = self.judgement.as_ref().expect("judged");
                let mut others: Vec<String> = Vec::new();
                // The findings the counts above do not already say.
                for kind in FindingKind::ALL.into_iter().filter(|k| {
                    !matches!(
                        k,
                        FindingKind::Survivor
                            | FindingKind::Early
                            | FindingKind::Zombie
                            | FindingKind::OrphanedZombie
                            | FindingKind::BystanderKilled
                    )
                }) {
                    match j.count(kind) {
                        0 => {}
                        1 => others.push(kind.to_string()),
                        n => others.push(format!("{kind} x{n}")),
                    }
                }
                let others = if others.is_empty() {
                    String::new()
                } else {
                    format!("; also {}", others.join(", "))
                };
                detail.push(format!(
                    "{} survivor(s), {} early ({} running, {} dying at done), {} zombie(s), {} orphaned zombie(s), {} bystander(s) killed{others}; supervisor exited {}",
                    j.survivors,
                    j.stragglers + j.dying,
                    j.stragglers,
                    j.dying,
                    j.zombies,
                    j.orphaned_zombies,
                    j.bystanders_killed,
                    self.sup.as_ref().and_then(|s| s.status).map_or("?".into(), |s| s.to_string())
                ));
            }
        }
        detail.extend(self.notes.iter().cloned());
        out.detail = Some(detail.join("; "));
        out
    }
}
