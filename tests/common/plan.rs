//! The plan is what a real run does: run a command with `--dry-run`, then
//! for real, both with `--trace-json`, and compare the steps (mechanism,
//! action, summary, in order) after redacting what only the real run can
//! know (ids, addresses, pids, times).

use std::path::Path;
use std::process::Command;

use super::{stderr, stdout};

/// One line of a `--trace-json` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Traced {
    pub mechanism: String,
    pub action: String,
    pub summary: String,
    /// `ok`, `error` or `planned`.
    pub result: String,
    pub detail: bool,
}

/// The steps in a `--trace-json` file, in order.
pub fn read_trace(path: &Path) -> Vec<Traced> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("trace line is not JSON ({e}): {l}"));
            let s = |k: &str| v[k].as_str().unwrap_or("").to_string();
            Traced {
                mechanism: s("mechanism"),
                action: s("action"),
                summary: s("summary"),
                result: s("result"),
                detail: v["detail"].as_bool().unwrap_or(false),
            }
        })
        .collect()
}

/// `mechanism action summary` of each step, with `redact` (regex,
/// replacement) applied to the summary.
pub fn lines(steps: &[Traced], redact: &[(&str, &str)]) -> Vec<String> {
    let res: Vec<(regex::Regex, &str)> = redact
        .iter()
        .map(|(r, w)| (regex::Regex::new(r).expect("a valid regex"), *w))
        .collect();
    steps
        .iter()
        .map(|s| {
            let mut summary = s.summary.clone();
            for (re, with) in &res {
                summary = re.replace_all(&summary, *with).into_owned();
            }
            format!("{} {} {summary}", s.mechanism, s.action)
        })
        .collect()
}

/// Run `make()` with `--dry-run`, then for real, and assert that the plan
/// lists exactly the steps the real run took. `make` builds the command
/// without the trace flags (a fresh `TestRoot::glassbox()` with its
/// arguments); `reset` runs between the two, to put the host back where
/// the plan started (usually nothing: a plan changes nothing).
pub fn assert_plan_is_the_run(
    what: &str,
    make: impl Fn(&[&str]) -> Command,
    redact: &[(&str, &str)],
) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let plan_file = dir.path().join("plan.jsonl");
    let run_file = dir.path().join("run.jsonl");
    let out = make(&["--dry-run", "--trace-json", plan_file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{what}: --dry-run failed\n{}{}",
        stdout(&out),
        stderr(&out)
    );
    let plan = read_trace(&plan_file);
    assert!(
        plan.iter().all(|s| s.result != "error"),
        "{what}: a step of the plan failed: {plan:#?}"
    );
    let out = make(&["-v", "--trace-json", run_file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{what}: the real run failed\n{}{}",
        stdout(&out),
        stderr(&out)
    );
    let run = read_trace(&run_file);
    let (p, r) = (lines(&plan, redact), lines(&run, redact));
    assert_eq!(
        p, r,
        "{what}: the plan (left) is not what the real run did (right)"
    );
    r
}

/// [`assert_plan_is_the_run`] for a command whose plan or run ends with
/// another status than 0: `plan_code` and `run_code` are the exit codes
/// expected (e.g. a plan exits 0 where CMD, run for real, exits 137; a
/// missing command is 127 in both). A failed step is allowed where the
/// code says the command fails; the steps must still match.
pub fn assert_plan_is_the_run_exiting(
    what: &str,
    make: impl Fn(&[&str]) -> Command,
    redact: &[(&str, &str)],
    plan_code: i32,
    run_code: i32,
) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let plan_file = dir.path().join("plan.jsonl");
    let run_file = dir.path().join("run.jsonl");
    let out = make(&["--dry-run", "--trace-json", plan_file.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(plan_code),
        "{what}: --dry-run\n{}{}",
        stdout(&out),
        stderr(&out)
    );
    let plan = read_trace(&plan_file);
    if plan_code == 0 {
        assert!(
            plan.iter().all(|s| s.result != "error"),
            "{what}: a step of the plan failed: {plan:#?}"
        );
    }
    let out = make(&["-v", "--trace-json", run_file.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(run_code),
        "{what}: the real run\n{}{}",
        stdout(&out),
        stderr(&out)
    );
    let run = read_trace(&run_file);
    let (p, r) = (lines(&plan, redact), lines(&run, redact));
    assert_eq!(
        p, r,
        "{what}: the plan (left) is not what the real run did (right)"
    );
    r
}
