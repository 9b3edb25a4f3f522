//! A plan's identity: what shards compare before they are merged.
//!
//! Two machines build the same plan when they are given the same options, seed and
//! build; then they deal its cells the same way ([`super::shard`]) and their
//! outputs fit together. [`Plan::id`] hashes everything that decides the cells and
//! what each is expected to be, and nothing that does not (`--jobs`, the shard,
//! the host, which rows this host can run), so a merge can refuse outputs that do
//! not belong together instead of mixing them.

use crate::matrix::plan::Plan;
use crate::shell::trigger_name;

/// Bumped when what the identity covers changes meaning.
const VERSION: u32 = 1;

impl Plan {
    /// The plan's identity: 16 hex digits (64-bit FNV-1a) over the harness version,
    /// the timings, bystanders, trigger override and seed, every row (label, argv,
    /// who judges it), every tree (name, trigger, spec) and every cell's expected
    /// verdicts, in plan order.
    pub fn id(&self) -> String {
        let mut h = Fnv::default();
        h.line(&format!(
            "teardown-plan {VERSION} {}",
            env!("CARGO_PKG_VERSION")
        ));
        let t = self.timing;
        h.line(&format!(
            "timing {} {} {}",
            t.grace.as_micros(),
            t.straggler_grace.as_micros(),
            t.deadline.as_micros()
        ));
        h.line(&format!("bystanders {}", self.bystanders));
        h.line(&format!(
            "trigger {}",
            self.trigger.map_or("-", trigger_name)
        ));
        h.line(&format!(
            "seed {}",
            self.seed.map_or("-".to_owned(), |s| s.to_string())
        ));
        for row in &self.rows {
            let argv = serde_json::to_string(&row.argv).unwrap_or_default();
            h.line(&format!("row {} {argv} {}", row.label, row.judge.name()));
        }
        for col in &self.columns {
            h.line(&format!(
                "tree {} {} {}",
                col.name,
                trigger_name(col.trigger),
                col.spec_text
            ));
        }
        for r in 0..self.rows.len() {
            for c in 0..self.columns.len() {
                let words: Vec<&str> = self
                    .expected(r, c)
                    .map(|e| e.verdicts().iter().map(|v| v.as_str()).collect())
                    .unwrap_or_default();
                h.line(&format!("cell {r} {c} {}", words.join("|")));
            }
        }
        format!("{:016x}", h.0)
    }
}

/// 64-bit FNV-1a: stable across Rust versions and platforms, unlike `std`'s hasher.
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    fn bytes(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    fn line(&mut self, text: &str) {
        self.bytes(text.as_bytes());
        self.bytes(b"\n");
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use teardown::Method;

    use super::*;
    use crate::matrix::run::tests::fake_plan;
    use crate::matrix::shard::Shard;

    #[test]
    fn fnv_matches_the_published_test_vector() {
        let mut h = Fnv::default();
        h.bytes(b"a");
        assert_eq!(h.0, 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn the_id_ignores_jobs_shard_and_host_but_not_what_decides_verdicts() {
        let plan = fake_plan(&[Method::Killpg, Method::Pidns], &["setsid-escape"]);
        let id = plan.id();
        assert_eq!(id.len(), 16);
        let mut same = plan.clone();
        same.jobs = 7;
        same.shard = Some(Shard::new(2, 3).unwrap());
        same.rows[0].available = Err("not here".into());
        assert_eq!(same.id(), id);

        let mut other = plan.clone();
        other.timing.grace = Duration::from_millis(100);
        assert_ne!(other.id(), id, "grace");
        let mut other = plan.clone();
        other.seed = Some(1);
        assert_ne!(other.id(), id, "seed");
        let mut other = plan.clone();
        other.columns[0].spec_text.push(' ');
        assert_ne!(other.id(), id, "spec");
        let other = fake_plan(&[Method::Pidns, Method::Killpg], &["setsid-escape"]);
        assert_ne!(other.id(), id, "row order");
    }
}
