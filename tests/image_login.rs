//! `login` under `--dry-run` (issue 11, item 5): a login checks the
//! password against the registry before it stores anything, and that
//! request changes nothing, so a plan makes it (the registry's token
//! service sees it; a registry that is not there fails the plan as it
//! would fail the login). The credentials file is only planned: nothing
//! is written, and nothing says "Login Succeeded" or "credentials stored".
//! `logout --dry-run` removes nothing either. HOME and DOCKER_CONFIG point
//! into the test's own directory. Needs root.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::plan::read_trace;
use common::registry::Registry;
use common::{TestRoot, entries, require_root, stderr, stdout};

/// `glassbox` with HOME and DOCKER_CONFIG inside `home`.
fn isolated(root: &TestRoot, home: &Path) -> Command {
    let mut cmd = root.glassbox();
    cmd.env("HOME", home)
        .env("DOCKER_CONFIG", home.join(".docker"));
    cmd
}

fn run(root: &TestRoot, home: &Path, args: &[&str]) -> Output {
    isolated(root, home).args(args).output().unwrap()
}

#[test]
fn a_dry_run_login_checks_the_password_and_stores_nothing() {
    require_root();
    let reg = Registry::builder().token_auth().start();
    let tokens = reg.token_server().unwrap();
    let server = reg.addr().to_string();
    let root = TestRoot::new();
    let home = tempfile::tempdir().unwrap();
    let plan = home.path().join("plan.jsonl");
    let out = run(
        &root,
        home.path(),
        &[
            "--dry-run",
            "--trace-json",
            plan.to_str().unwrap(),
            "login",
            &server,
            "-u",
            "student",
            "-p",
            "secret",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        !tokens.requests().is_empty(),
        "the plan checked the password with the registry's token service"
    );
    assert!(
        !root.path().join("auth.json").exists(),
        "a plan stored the credentials"
    );
    assert!(
        entries(root.path()).is_empty(),
        "a plan wrote {:?}",
        entries(root.path())
    );
    assert_eq!(stdout(&out), "", "a plan does not say Login Succeeded");
    assert!(
        !stderr(&out).contains("credentials stored"),
        "{}",
        stderr(&out)
    );
    let steps: Vec<(String, String)> = read_trace(&plan)
        .into_iter()
        .map(|s| (s.summary, s.result))
        .collect();
    let auth = root.path().join("auth.json");
    assert!(
        steps.contains(&(
            format!("check the password of student on {server}"),
            "ok".into()
        )),
        "{steps:#?}"
    );
    assert!(
        steps.contains(&(
            format!("write state file {}", auth.display()),
            "planned".into()
        )),
        "{steps:#?}"
    );

    // The check is real: a registry that is not there fails the plan.
    let out = run(
        &root,
        home.path(),
        &[
            "--dry-run",
            "login",
            "127.0.0.1:1",
            "-u",
            "student",
            "-p",
            "x",
        ],
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("cannot reach registry 127.0.0.1:1"),
        "{}",
        stderr(&out)
    );

    // For real, the same login stores the credentials.
    let out = run(
        &root,
        home.path(),
        &["login", &server, "-u", "student", "-p", "secret"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "Login Succeeded\n");
    assert!(auth.is_file());
}

#[test]
fn a_dry_run_logout_removes_nothing() {
    require_root();
    let reg = Registry::start();
    let server = reg.addr().to_string();
    let root = TestRoot::new();
    let home = tempfile::tempdir().unwrap();
    let out = run(
        &root,
        home.path(),
        &["login", &server, "-u", "u", "-p", "p"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let auth = root.path().join("auth.json");
    let before = std::fs::read(&auth).unwrap();
    let out = run(&root, home.path(), &["--dry-run", "logout", &server]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::read(&auth).unwrap(), before);
    let out = run(&root, home.path(), &["logout", &server]);
    assert_eq!(
        stdout(&out),
        format!("Removing login credentials for {server}\n")
    );
}
