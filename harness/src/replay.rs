//! The `teardown replay` command line that runs a [`Trial`] again.
//!
//! Every failure the harness reports — a property test's minimal tree, a fuzz
//! finding — ends with this line, so that a person can paste it into a shell:
//!
//! ```
//! use teardown::Method;
//! use teardown_harness::trial::{Supervisor, Trial};
//!
//! let spec = "pause [fork: setsid pause]".parse().unwrap();
//! let t = Trial::new(Supervisor::Method(Method::Killpg), spec);
//! assert_eq!(
//!     teardown_harness::replay::line(&t),
//!     "teardown replay --method killpg 'pause [fork: setsid pause]'"
//! );
//! ```
//!
//! Options are written only where the trial differs from `teardown replay`'s
//! defaults (those of [`Trial::new`]), so a default trial replays as
//! `teardown replay --method M 'SPEC'`.

use crate::shell::{format_duration_arg, quote, trigger_name};
use crate::trial::{Supervisor, Trial};

/// The shell command that replays `trial` (see the module docs).
pub fn line(trial: &Trial) -> String {
    let defaults = Trial::new(trial.supervisor.clone(), trial.spec.clone());
    let mut parts = vec!["teardown".to_owned(), "replay".to_owned()];
    if let Supervisor::Method(m) = &trial.supervisor {
        parts.extend(["--method".to_owned(), m.to_string()]);
    }
    if trial.trigger != defaults.trigger {
        parts.extend([
            "--trigger".to_owned(),
            trigger_name(trial.trigger).to_owned(),
        ]);
    }
    for (flag, value, default) in [
        ("--grace", trial.grace, defaults.grace),
        (
            "--straggler-grace",
            trial.straggler_grace,
            defaults.straggler_grace,
        ),
        ("--deadline", trial.deadline, defaults.deadline),
    ] {
        // For an external supervisor the grace is the one it promises (what
        // `grace-cut` holds it to), so it is replayed too.
        if value != default {
            parts.extend([flag.to_owned(), format_duration_arg(value)]);
        }
    }
    if trial.bystanders != defaults.bystanders {
        parts.extend(["--bystanders".to_owned(), trial.bystanders.to_string()]);
    }
    parts.push(quote(&trial.spec.to_string()));
    if let Supervisor::External(argv) = &trial.supervisor {
        parts.push("--".to_owned());
        parts.extend(argv.iter().map(|a| quote(a)));
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trial::Trigger;
    use std::time::Duration;
    use teardown::Method;

    #[test]
    fn options_that_differ_from_the_defaults_are_written_before_the_spec() {
        let mut t = Trial::new(
            Supervisor::Method(Method::Subreaper),
            "pause [dfork: setsid pause]".parse().unwrap(),
        );
        t.grace = Duration::from_millis(100);
        t.deadline = Duration::from_secs(2);
        t.trigger = Trigger::LeaderExit;
        assert_eq!(
            line(&t),
            "teardown replay --method subreaper --trigger leader-exit --grace 100ms \
             --deadline 2s 'pause [dfork: setsid pause]'"
        );
    }

    #[test]
    fn an_external_supervisor_follows_the_spec_after_a_double_dash() {
        let t = Trial::new(
            Supervisor::External(vec!["sh".into(), "-c".into(), "it's \"$@\"".into()]),
            "pause".parse().unwrap(),
        );
        assert_eq!(line(&t), r#"teardown replay pause -- sh -c 'it'\''s "$@"'"#);
    }
}
