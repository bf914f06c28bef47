//! Printing the checks: aligned lines for people (colored on a terminal),
//! a JSON array for scripts. Pure: the same checks always print the same.

use colored::Colorize;

use super::{Check, Status};

/// Width of the check-name column.
pub const NAME_WIDTH: usize = 22;

fn status_cell(s: Status) -> String {
    let text = format!("{:<4}", s.as_str());
    match s {
        Status::Ok => text.green().to_string(),
        Status::Warn => text.yellow().bold().to_string(),
        Status::Fail => text.red().bold().to_string(),
        Status::Info => text.blue().to_string(),
    }
}

/// One line per check: `status  name  finding  -> what to do`, then a
/// summary line.
pub fn render(checks: &[Check]) -> String {
    let mut out = String::new();
    for c in checks {
        let name = format!("{:<NAME_WIDTH$}", c.check);
        out.push_str(&format!(
            "{}  {}  {}",
            status_cell(c.status),
            name.bold(),
            c.detail
        ));
        if let Some(hint) = &c.hint {
            out.push_str(&format!("  {}", format!("-> {hint}").cyan()));
        }
        out.push('\n');
    }
    out.push_str(&summary(checks));
    out.push('\n');
    out
}

/// `3 ok, 1 warn, 0 fail, 2 info: ready` (or `not ready`).
pub fn summary(checks: &[Check]) -> String {
    let count = |s: Status| checks.iter().filter(|c| c.status == s).count();
    let fails = count(Status::Fail);
    let verdict = if fails == 0 {
        "this machine can run glassbox containers"
            .green()
            .to_string()
    } else {
        "fix the failures above before running containers"
            .red()
            .to_string()
    };
    format!(
        "{} ok, {} warn, {} fail, {} info: {verdict}",
        count(Status::Ok),
        count(Status::Warn),
        fails,
        count(Status::Info)
    )
}

/// `[{"check", "status", "detail", "hint"}, ...]`
pub fn json(checks: &[Check]) -> String {
    serde_json::to_string_pretty(checks).unwrap_or_else(|_| "[]".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Readings of a hybrid machine like the lab VMs, run through the real
    /// verdicts, so the snapshot shows what doctor prints there.
    pub fn sample() -> Vec<Check> {
        use crate::cgroup::detect;
        use crate::doctor::{cgroups, firewall, kernel, links, privileges, state};
        use crate::host::mountinfo;
        let mut v = vec![
            privileges::verdict(&privileges::Reading {
                euid: 0,
                missing: Ok(vec![]),
            }),
            kernel::verdict("6.18.44-fc-v669"),
        ];
        let mi = "\
32 31 0:29 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu
35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids
41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw
";
        let reading = cgroups::Reading {
            layout: Ok(detect::layout_from(&mountinfo::parse(mi), |_| {
                Some("hugetlb\n".into())
            })),
            writable: vec![
                ("memory".into(), true),
                ("cpu".into(), true),
                ("pids".into(), true),
            ],
            swap_accounting: Some(false),
            swap_areas: 0,
        };
        v.extend(cgroups::verdicts(&reading));
        let t = links::TestLinks::new("gb", 0xbeef);
        v.push(links::links_verdict(&Ok(()), false, &t));
        v.extend(firewall::verdicts(
            &firewall::Tool::Usable,
            &firewall::Tool::Missing,
        ));
        v.push(firewall::ip_forward_verdict(Ok("0\n")));
        v.push(state::leftovers_verdict(&Ok(vec![
            crate::state::resources::Leftover {
                kind: "mount".into(),
                id: "/var/lib/glassbox/containers/ab12/merged".into(),
                reason: "its owner /var/lib/glassbox/containers/ab12.json is gone".into(),
            },
        ])));
        v
    }

    #[test]
    fn human_report_is_aligned() {
        colored::control::set_override(false);
        insta::assert_snapshot!(render(&sample()));
    }

    #[test]
    fn json_report_has_four_fields_per_check() {
        let v: serde_json::Value = serde_json::from_str(&json(&sample())).unwrap();
        let first = &v.as_array().unwrap()[0];
        let mut keys: Vec<&str> = first
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        keys.sort();
        assert_eq!(keys, ["check", "detail", "hint", "status"]);
        assert_eq!(first["status"], "ok");
        assert!(first["hint"].is_null());
        let swap = v
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["check"] == "swap accounting")
            .unwrap();
        assert_eq!(swap["status"], "warn");
    }

    #[test]
    fn summary_counts_and_says_whether_ready() {
        colored::control::set_override(false);
        let s = summary(&sample());
        assert!(s.contains("0 fail"), "{s}");
        assert!(s.ends_with("this machine can run glassbox containers"));
    }
}
