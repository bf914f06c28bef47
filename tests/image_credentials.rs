//! The credentials file stays root's alone (issue 10, defect 4): mode 0600
//! after `login`, after a second `login`, after `logout` of another
//! registry (it was 0644 then), and after a login over a file an older
//! glassbox left 0644; its content stays right. A damaged Docker config
//! (`$DOCKER_CONFIG/config.json`) is skipped with a warning, not taken for
//! glassbox state. HOME and DOCKER_CONFIG point into the test's own
//! directory, so the runner's own Docker credentials are never read.
//! Needs root.

mod common;

use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::fixtures::BUSYBOX;
use common::registry::Registry;
use common::{TestRoot, entries, require_root};

/// `glassbox` with HOME and DOCKER_CONFIG inside `home`.
fn isolated(root: &TestRoot, home: &Path) -> Command {
    let mut cmd = root.glassbox();
    cmd.env("HOME", home)
        .env("DOCKER_CONFIG", home.join(".docker"));
    cmd
}

fn login(root: &TestRoot, home: &Path, server: &str, user: &str, pass: &str) -> Output {
    let mut child = isolated(root, home)
        .args(["login", server, "-u", user, "--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{pass}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "login {server}: {}",
        common::stderr(&out)
    );
    out
}

fn logout(root: &TestRoot, home: &Path, server: &str) -> String {
    let out = isolated(root, home)
        .args(["logout", server])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "logout {server}: {}",
        common::stderr(&out)
    );
    common::stdout(&out)
}

/// The file's mode and its `auths`, decoded to `user:password`.
fn auth_file(root: &TestRoot) -> (u32, Vec<(String, String)>) {
    let path = root.path().join("auth.json");
    let mode = std::fs::metadata(&path).unwrap().mode() & 0o7777;
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let auths = v["auths"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, e)| {
            let raw =
                glassbox::image::registry::base64_decode(e["auth"].as_str().unwrap()).unwrap();
            (k.clone(), String::from_utf8(raw).unwrap())
        })
        .collect();
    (mode, auths)
}

#[test]
fn credentials_stay_0600_through_login_login_logout() {
    require_root();
    let reg = Registry::start();
    let root = TestRoot::new();
    let home = tempfile::tempdir().unwrap();
    let a = reg.addr().to_string();
    let b = format!("localhost:{}", reg.addr().port());

    login(&root, home.path(), &a, "alice", "pa");
    assert_eq!(
        auth_file(&root),
        (0o600, vec![(a.clone(), "alice:pa".into())])
    );
    login(&root, home.path(), &b, "bob", "pb");
    assert_eq!(
        auth_file(&root),
        (
            0o600,
            vec![(a.clone(), "alice:pa".into()), (b.clone(), "bob:pb".into())]
        )
    );
    assert!(logout(&root, home.path(), &a).contains("Removing login credentials"));
    assert_eq!(
        auth_file(&root),
        (0o600, vec![(b.clone(), "bob:pb".into())]),
        "after logout of another registry"
    );
    assert!(logout(&root, home.path(), &a).contains("Not logged in"));
    assert_eq!(auth_file(&root).0, 0o600);

    // A file an older glassbox left world-readable is private again.
    let path = root.path().join("auth.json");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    login(&root, home.path(), &a, "alice", "again");
    assert_eq!(
        auth_file(&root),
        (
            0o600,
            vec![(a.clone(), "alice:again".into()), (b, "bob:pb".into())]
        )
    );
    let temps: Vec<String> = entries(root.path())
        .into_iter()
        .filter(|n| n.contains(".tmp-"))
        .collect();
    assert!(temps.is_empty(), "{temps:?}");
}

#[test]
fn a_damaged_docker_config_is_skipped_with_a_warning() {
    require_root();
    let reg = Registry::start();
    reg.push(&[BUSYBOX]);
    let root = TestRoot::new();
    let home = tempfile::tempdir().unwrap();
    let docker = home.path().join(".docker");
    std::fs::create_dir(&docker).unwrap();
    std::fs::write(docker.join("config.json"), b"{\"auths\": {").unwrap();
    let out = isolated(&root, home.path())
        .args(["pull", &reg.reference(BUSYBOX)])
        .output()
        .unwrap();
    let err = common::stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains(docker.join("config.json").to_str().unwrap()) && err.contains("skipped"),
        "warns about the file: {err}"
    );
    assert!(!err.contains("glassbox state"), "{err}");
    assert_eq!(
        std::fs::read(docker.join("config.json")).unwrap(),
        b"{\"auths\": {",
        "Docker's file is left alone"
    );
}
