//! The command line itself: global options, bad input, the trace outputs
//! (human, JSON, dry-run plan) of a real command.

mod common;

use common::crash::is_mounted;
use common::{TestRoot, stderr, stdout};
use std::process::Command;

#[test]
fn version_is_printed() {
    let out = Command::new(common::glassbox_bin())
        .arg("--version")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        stdout(&out).trim(),
        format!("glassbox {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn unknown_subcommand_is_named() {
    let root = TestRoot::new();
    let out = root.run(&["frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("unrecognized subcommand 'frobnicate'"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn unknown_flag_is_named() {
    let root = TestRoot::new();
    let out = root.run(&["system", "prune", "--bogus"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--bogus"), "{}", stderr(&out));
}

#[test]
fn a_root_that_is_a_file_is_refused_and_left_alone() {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), b"keep me").unwrap();
    let out = Command::new(common::glassbox_bin())
        .arg("--root")
        .arg(file.path())
        .args(["system", "prune", "-f"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125));
    let err = stderr(&out);
    assert!(err.contains("is not a directory"), "{err}");
    assert!(err.contains(&file.path().display().to_string()), "{err}");
    assert_eq!(std::fs::read(file.path()).unwrap(), b"keep me");
}

#[test]
fn root_from_environment_is_used() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(common::glassbox_bin())
        .env("GLASSBOX_ROOT", dir.path())
        .args(["system", "prune", "-f"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(dir.path().join("run/resources.json").exists() || dir.path().join("run").is_dir());
}

#[test]
fn a_corrupt_state_file_is_named_and_not_overwritten() {
    let root = TestRoot::new();
    let ledger = root.path().join("run/resources.json");
    std::fs::create_dir_all(ledger.parent().unwrap()).unwrap();
    std::fs::write(&ledger, b"[{\"kind\": \"mount\", ").unwrap();
    let err = root.fails(&["system", "prune", "-f"]);
    assert!(err.contains(&ledger.display().to_string()), "{err}");
    assert!(err.contains("not valid glassbox state"), "{err}");
    assert!(err.contains("move it aside"), "{err}");
    assert_eq!(std::fs::read(&ledger).unwrap(), b"[{\"kind\": \"mount\", ");
}

#[test]
fn completions_for_each_shell() {
    for shell in ["bash", "zsh", "fish"] {
        let out = Command::new(common::glassbox_bin())
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(out.status.success(), "{shell}: {}", stderr(&out));
        let script = stdout(&out);
        assert!(script.contains("glassbox"), "{shell}");
        assert!(script.contains("doctor"), "{shell} completes subcommands");
    }
}

#[test]
fn every_subcommand_shows_the_global_options_under_their_own_heading() {
    use clap::CommandFactory;
    fn walk(cmd: &mut clap::Command, path: &str, out: &mut Vec<String>) {
        let help = cmd.render_help().to_string();
        let (own, global) = help.split_once("Global options:").unwrap_or((&help, ""));
        if !global.contains("--root <DIR>") || !global.contains("--dry-run") {
            out.push(format!(
                "{path}: no 'Global options:' heading with --root and --dry-run"
            ));
        }
        if own.contains("--root <DIR>") || own.contains("--trace-json") {
            out.push(format!(
                "{path}: a global option is listed among its own options"
            ));
        }
        // clap's generated `help` subcommands take no options.
        for sub in cmd.get_subcommands_mut().filter(|s| s.get_name() != "help") {
            let name = format!("{path} {}", sub.get_name());
            walk(sub, &name, out);
        }
    }
    let mut cli = glassbox::cli::Cli::command();
    cli.build();
    let mut wrong = Vec::new();
    for sub in cli.get_subcommands_mut().filter(|s| s.get_name() != "help") {
        let name = format!("glassbox {}", sub.get_name());
        walk(sub, &name, &mut wrong);
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn every_argument_and_option_of_every_command_has_a_help_line() {
    use clap::CommandFactory;
    fn walk(cmd: &clap::Command, path: &str, out: &mut Vec<String>) {
        if cmd.is_hide_set() {
            return;
        }
        if cmd.get_about().is_none() && path != "glassbox" {
            out.push(format!("{path}: the command has no help line"));
        }
        for a in cmd.get_arguments() {
            let id = a.get_id().as_str();
            if a.is_hide_set() || id == "help" || id == "version" {
                continue;
            }
            if a.get_help().is_none_or(|h| h.to_string().trim().is_empty()) {
                out.push(format!("{path}: {id} has no help line"));
            }
        }
        for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
            walk(sub, &format!("{path} {}", sub.get_name()), out);
        }
    }
    let mut cli = glassbox::cli::Cli::command();
    cli.build();
    let mut missing = Vec::new();
    walk(&cli, "glassbox", &mut missing);
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

/// `mount -t tmpfs -o OPTIONS SOURCE TARGET`, for the test's own use.
fn mount_tmpfs(source: &str, options: &str, target: &std::path::Path) {
    let ok = Command::new("mount")
        .args(["-t", "tmpfs", "-o", options, source])
        .arg(target)
        .status()
        .unwrap()
        .success();
    assert!(
        ok,
        "mount -t tmpfs -o {options} {source} {}",
        target.display()
    );
}

/// Mount a tmpfs under the root that no glassbox command recorded: a leftover.
/// A mount this root recorded whose creator was killed before it finished.
fn leftover_mount(root: &TestRoot) -> std::path::PathBuf {
    common::crash::half_made_mount(root, "stray")
}

#[test]
fn dry_run_plans_without_doing_and_the_trace_outputs_agree() {
    common::require_root();
    let root = TestRoot::new();
    let target = leftover_mount(&root);
    let json = root.path().join("trace.jsonl");

    // The plan: printed, recorded as planned, nothing done.
    let prune = |flag: &str| {
        root.glassbox()
            .arg(flag)
            .arg("--trace-json")
            .arg(&json)
            .args(["system", "prune", "-f"])
            .output()
            .unwrap()
    };
    let out = prune("--dry-run");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(is_mounted(&target), "dry-run must not unmount");
    let plan = stderr(&out).replace(&root.path().display().to_string(), "[ROOT]");
    insta::assert_snapshot!("dry_run_plan", plan);
    let lines = std::fs::read_to_string(&json).unwrap();
    let step: serde_json::Value = serde_json::from_str(lines.lines().next().unwrap()).unwrap();
    assert_eq!(step["result"], "planned");
    assert_eq!(step["dry_run"], true);
    assert_eq!(step["mechanism"], "system");
    assert_eq!(
        step["shell"],
        format!("umount -l {}", target.display()).as_str()
    );

    // The real thing, at -v: the same step, now executed.
    std::fs::remove_file(&json).unwrap();
    let out = prune("-v");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!is_mounted(&target), "prune must unmount the leftover");
    assert!(stdout(&out).contains("removed mount"), "{}", stdout(&out));
    let human = stderr(&out)
        .replace(&root.path().display().to_string(), "[ROOT]")
        .split_whitespace()
        .filter(|w| !w.ends_with("µs") && !w.ends_with("ms"))
        .collect::<Vec<_>>()
        .join(" ");
    insta::assert_snapshot!("prune_trace_v", human);
    let step: serde_json::Value = serde_json::from_str(
        std::fs::read_to_string(&json)
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(step["result"], "ok");
    assert!(step["duration_us"].is_u64());
}

#[test]
fn no_color_env_and_pipes_give_plain_text() {
    common::require_root();
    let root = TestRoot::new();
    leftover_mount(&root);
    let out = root
        .glassbox()
        .env("NO_COLOR", "1")
        .args(["-v", "system", "prune", "-f"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(!stderr(&out).contains('\x1b'), "no escape codes when piped");
}

#[test]
fn an_unwritable_root_is_named_and_nothing_is_written() {
    common::require_root();
    let base = tempfile::Builder::new()
        .prefix("gbtest-ro-")
        .tempdir()
        .unwrap();
    let ro = base.path().join("ro");
    std::fs::create_dir(&ro).unwrap();
    mount_tmpfs("gbtest-ro", "ro,size=64k", &ro);
    let out = Command::new(common::glassbox_bin())
        .arg("--root")
        .arg(&ro)
        .args(["system", "prune", "-f"])
        .output()
        .unwrap();
    let listing: Vec<_> = std::fs::read_dir(&ro).unwrap().collect();
    let _ = Command::new("umount").arg(&ro).status();
    assert_eq!(out.status.code(), Some(125));
    let err = stderr(&out);
    assert!(err.contains(&ro.display().to_string()), "{err}");
    assert!(
        err.contains("not writable") || err.contains("Read-only file system"),
        "{err}"
    );
    assert!(listing.is_empty(), "nothing written: {listing:?}");
}

#[test]
fn permission_denied_as_an_ordinary_user_says_to_run_as_root() {
    common::require_root();
    let root = TestRoot::new();
    // The user owns its state, so only the kernel's refusal is left.
    std::os::unix::fs::chown(root.path(), Some(65534), Some(65534)).unwrap();
    let out = root.run_as_nobody(&["cgroup", "create", "denied"]);
    assert_eq!(out.status.code(), Some(125));
    let err = stderr(&out);
    assert!(err.contains("Permission denied"), "{err}");
    assert!(err.contains("run it as root"), "{err}");
    std::os::unix::fs::chown(root.path(), Some(0), Some(0)).unwrap();
}

#[test]
fn a_ledger_an_earlier_version_kept_in_the_data_directory_moves_to_the_run_directory() {
    let root = TestRoot::new();
    let old = root.path().join("resources.json");
    let record = r#"[{"kind":"mount","id":"/nowhere/gbtest-moved","owner":{"type":"manual","command":"unionfs mount"},"phase":"live","creator":1}]"#;
    std::fs::write(&old, record).unwrap();
    // doctor reads the ledger, finds the record and names what it found.
    let out = root.run(&["doctor"]);
    let said = format!("{}{}", stdout(&out), stderr(&out));
    assert!(said.contains("/nowhere/gbtest-moved"), "{said}");
    assert!(
        !old.exists(),
        "the old ledger is still in the data directory"
    );
    let moved = std::fs::read_to_string(root.path().join("run/resources.json")).unwrap();
    assert!(moved.contains("/nowhere/gbtest-moved"), "{moved}");
}
