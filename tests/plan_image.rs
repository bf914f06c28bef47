//! A `--dry-run` plan of an image command is what the real run does (issue
//! 11, item 4), for each image command the labs use: from-host, pull,
//! images/ls, inspect, history, tag, rmi/rm, save, load, import, prune,
//! layers, login. Each row of the table starts from a fresh root, set up by
//! real commands; the plan must write nothing there, succeed, and list the
//! steps (mechanism, action, summary, in order) the real run then takes.
//! What only the run can know is redacted: the pids in temporary names,
//! and for images made here (`from-host`, `import`: their config holds the
//! time they were made, and from-host's layer the times of the files it
//! stages) the digests. Pulled and loaded images keep their digests:
//! those are deterministic, and the plan must name them right.
//!
//! As an ordinary user (nobody), who may not read the root's store, every
//! one of these plans still succeeds and shows the read it could not make
//! as a step that needs root. Needs root.

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::fixtures::{self, BUSYBOX, LAYERED};
use common::plan::{assert_plan_is_the_run, lines, read_trace};
use common::registry::Registry;
use common::{TestRoot, require_root, stderr, stdout};

/// The pids in temporary names (`tmp/load-PID-N`, `layers/.tmp-PID-N`).
const TEMP: (&str, &str) = (r"-\d+-\d+\b", "-PID-N");
/// Every digest, full or short, and what a plan says of one it cannot
/// know yet.
const DIGESTS: [(&str, &str); 3] = [
    (r"<unknown>", "<digest>"),
    (r"[0-9a-f]{64}", "<digest>"),
    (r"\b[0-9a-f]{12}\b", "<digest>"),
];

/// One row: set up with `setup` (real commands), then compare the plan of
/// `args` with its run.
struct Case {
    what: &'static str,
    setup: Vec<Vec<String>>,
    args: Vec<String>,
    /// Redact digests too (images made here).
    made_here: bool,
    /// A file to give as standard input.
    stdin: Option<String>,
}

fn case(what: &'static str, setup: &[&[&str]], args: &[&str], made_here: bool) -> Case {
    let own = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    Case {
        what,
        setup: setup.iter().map(|s| own(s)).collect(),
        args: own(args),
        made_here,
        stdin: None,
    }
}

/// `case`, reading `file` on standard input.
fn case_stdin(what: &'static str, args: &[&str], file: &str, made_here: bool) -> Case {
    Case {
        stdin: Some(file.to_string()),
        ..case(what, &[], args, made_here)
    }
}

/// Files the commands read: a rootfs tarball and directory to import, an
/// empty Docker config (the runner's own credentials are never read).
struct Inputs {
    dir: tempfile::TempDir,
}

impl Inputs {
    fn new() -> Inputs {
        let dir = tempfile::tempdir().unwrap();
        // Readable by nobody too.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let rootfs = dir.path().join("rootfs");
        std::fs::create_dir_all(rootfs.join("etc")).unwrap();
        std::fs::write(rootfs.join("etc/hello"), b"hello\n").unwrap();
        let tar = Command::new("tar")
            .args(["-C", rootfs.to_str().unwrap(), "-cf"])
            .arg(dir.path().join("rootfs.tar"))
            .arg(".")
            .status()
            .unwrap();
        assert!(tar.success());
        std::fs::create_dir(dir.path().join("docker")).unwrap();
        Inputs { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }
}

fn cases(reg: &Registry, inputs: &Inputs, out: &Path) -> Vec<Case> {
    let busybox = reg.reference(BUSYBOX);
    let archive = fixtures::archive(LAYERED).display().to_string();
    let tarball = inputs.path("rootfs.tar");
    let rootfs = inputs.path("rootfs");
    let saved = out.join("busybox.tar").display().to_string();
    let server = reg.addr().to_string();
    let pull_bb: &[&str] = &["pull", "-q", &busybox];
    let load: &[&str] = &["image", "load", "-i", &archive];
    vec![
        case(
            "image from-host",
            &[],
            &["image", "from-host", "busybox", "--tag", "busybox"],
            true,
        ),
        case("pull", &[], &["pull", &busybox], false),
        case(
            "pull of an image it has",
            &[pull_bb],
            &["pull", &busybox],
            false,
        ),
        case("images", &[load], &["images"], false),
        case("images -q", &[load], &["images", "-q"], false),
        case(
            "image ls --tree",
            &[load],
            &["image", "ls", "--tree"],
            false,
        ),
        case(
            "image inspect",
            &[load],
            &["image", "inspect", "layered"],
            false,
        ),
        case(
            "image history",
            &[load],
            &["image", "history", "layered"],
            false,
        ),
        case(
            "image layers",
            &[load, pull_bb],
            &["image", "layers"],
            false,
        ),
        case(
            "image tag",
            &[load],
            &["image", "tag", "layered", "app:v1"],
            false,
        ),
        case(
            "rmi of one of two tags",
            &[load, &["image", "tag", "layered", "app:v1"]],
            &["rmi", "app:v1"],
            false,
        ),
        case(
            "rmi of a layer another image shares",
            &[load, pull_bb],
            &["rmi", "layered"],
            false,
        ),
        case(
            "image rm of the last image",
            &[pull_bb],
            &["image", "rm", &busybox],
            false,
        ),
        case(
            "image save",
            &[pull_bb],
            &["image", "save", "-o", &saved, &busybox],
            false,
        ),
        case("image load", &[], load, false),
        case_stdin("image load from stdin", &["image", "load"], &archive, false),
        case("image load of an image it has", &[load], load, false),
        case(
            "image load -q",
            &[pull_bb],
            &["image", "load", "-q", "-i", &archive],
            false,
        ),
        case(
            "image import of a tarball",
            &[],
            &["image", "import", &tarball, "mine:v1"],
            true,
        ),
        case(
            "image import of a directory",
            &[],
            &["image", "import", &rootfs, "mine:v2"],
            true,
        ),
        case(
            "image prune",
            &[
                load,
                &["image", "tag", "layered", "app:v1"],
                pull_bb,
                &["rmi", "app:v1"],
            ],
            &["image", "prune", "-f"],
            false,
        ),
        case(
            "image prune -a",
            &[load, pull_bb],
            &["image", "prune", "-a", "-f"],
            false,
        ),
        case(
            "login",
            &[],
            &["login", &server, "-u", "student", "-p", "secret"],
            false,
        ),
    ]
}

/// Every file and directory under `dir` with what a write would change.
fn tree(dir: &Path) -> BTreeMap<PathBuf, (u32, u64, i64, i64)> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let md = std::fs::symlink_metadata(e.path()).unwrap();
            if md.is_dir() {
                todo.push(e.path());
            }
            out.insert(e.path(), (md.mode(), md.len(), md.mtime(), md.mtime_nsec()));
        }
    }
    out
}

/// `glassbox` for `root` with HOME and DOCKER_CONFIG in `inputs`.
fn glassbox(root: &TestRoot, inputs: &Inputs) -> Command {
    let mut cmd = root.glassbox();
    cmd.env("HOME", inputs.dir.path())
        .env("DOCKER_CONFIG", inputs.path("docker"));
    cmd
}

/// `glassbox ARGS` of a case, with its standard input.
fn command(root: &TestRoot, inputs: &Inputs, c: &Case) -> Command {
    let mut cmd = glassbox(root, inputs);
    if let Some(f) = &c.stdin {
        cmd.stdin(std::fs::File::open(f).unwrap());
    }
    cmd
}

fn setup(root: &TestRoot, inputs: &Inputs, c: &Case) {
    for s in &c.setup {
        let out = glassbox(root, inputs).args(s).output().unwrap();
        common::assert_succeeded(&s.iter().map(String::as_str).collect::<Vec<_>>(), &out);
    }
}

#[test]
fn the_plan_of_each_image_command_is_what_it_does() {
    require_root();
    let reg = Registry::start();
    reg.push(&[BUSYBOX, LAYERED]);
    let inputs = Inputs::new();
    let out = tempfile::tempdir().unwrap();
    let mut checked = Vec::new();
    for c in cases(&reg, &inputs, out.path()) {
        let root = TestRoot::new();
        setup(&root, &inputs, &c);
        let before = tree(root.path());
        let plan = command(&root, &inputs, &c)
            .arg("--dry-run")
            .args(&c.args)
            .output()
            .unwrap();
        assert!(
            plan.status.success(),
            "{}: --dry-run failed\n{}{}",
            c.what,
            stdout(&plan),
            stderr(&plan)
        );
        assert_eq!(before, tree(root.path()), "{}: the plan wrote", c.what);
        assert!(
            std::fs::read_dir(out.path()).unwrap().next().is_none(),
            "{}: the plan wrote an archive",
            c.what
        );
        let mut redact = vec![TEMP];
        if c.made_here {
            redact.extend(DIGESTS);
        }
        let steps = assert_plan_is_the_run(
            c.what,
            |flags| {
                let mut cmd = command(&root, &inputs, &c);
                cmd.args(flags).args(&c.args);
                cmd
            },
            &redact,
        );
        checked.push((c.what, steps.len()));
        let _ = std::fs::remove_file(out.path().join("busybox.tar"));
    }
    eprintln!("plan = run for: {checked:?}");
    let steps = |what: &str| checked.iter().find(|c| c.0 == what).unwrap().1;
    // The rows that change something have steps to compare.
    for what in [
        "image from-host",
        "pull",
        "image tag",
        "rmi of a layer another image shares",
        "image save",
        "image load",
        "image import of a tarball",
        "image prune -a",
        "login",
    ] {
        assert!(steps(what) > 0, "{what}: no steps");
    }
}

/// The steps of a plan and of a run, each sorted: a pull downloads and
/// unpacks its layers three at a time, in whatever order they finish.
#[test]
fn the_plan_of_a_parallel_pull_has_the_steps_of_its_run() {
    require_root();
    let reg = Registry::start();
    reg.push(&[LAYERED]);
    let inputs = Inputs::new();
    let root = TestRoot::new();
    let dir = tempfile::tempdir().unwrap();
    let trace = |name: &str, flag: &str| {
        let file = dir.path().join(name);
        let out = glassbox(&root, &inputs)
            .args([flag, "--trace-json", file.to_str().unwrap()])
            .args(["pull", &reg.reference(LAYERED)])
            .output()
            .unwrap();
        assert!(out.status.success(), "{flag}: {}", stderr(&out));
        let mut l = lines(&read_trace(&file), &[TEMP]);
        l.sort();
        l
    };
    let plan = trace("plan.jsonl", "--dry-run");
    assert!(
        !root.path().join("layers").exists(),
        "the plan stored layers"
    );
    let run = trace("run.jsonl", "-v");
    assert_eq!(plan, run);
    let unpacks = run.iter().filter(|l| l.contains("unpack layer")).count();
    assert_eq!(unpacks, 3, "{run:#?}");
    for d in fixtures::layer_digests(LAYERED) {
        let short = &d["sha256:".len()..][..12];
        assert!(
            plan.iter()
                .any(|l| l.contains(&format!("download layer {short}"))),
            "the plan names layer {short}: {plan:#?}"
        );
    }
}

/// `--dry-run` as nobody, which must succeed: its stdout and its steps
/// (summary, result).
fn plan_as_nobody(root: &TestRoot, inputs: &Inputs, c: &Case) -> (String, Vec<(String, String)>) {
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let file = dir.path().join("plan.jsonl");
    let args = &c.args;
    let out = command(root, inputs, c)
        .args(["--dry-run", "--trace-json", file.to_str().unwrap()])
        .args(args)
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    let steps: Vec<(String, String)> = read_trace(&file)
        .into_iter()
        .map(|s| (s.summary, s.result))
        .collect();
    assert!(
        out.status.success(),
        "{args:?} as nobody failed\n{}{}",
        stdout(&out),
        stderr(&out)
    );
    (stdout(&out), steps)
}

#[test]
fn without_root_a_plan_shows_what_needs_root_and_never_fails() {
    require_root();
    let reg = Registry::start();
    reg.push(&[BUSYBOX, LAYERED]);
    let inputs = Inputs::new();
    let out = tempfile::tempdir().unwrap();
    std::fs::set_permissions(out.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    // A root made by root, with images: nobody may not even look inside.
    let root = TestRoot::new();
    let archive = fixtures::archive(LAYERED).display().to_string();
    let loaded = glassbox(&root, &inputs)
        .args(["image", "load", "-i", &archive])
        .output()
        .unwrap();
    assert!(loaded.status.success(), "{}", stderr(&loaded));
    let before = tree(root.path());
    let mut shown = Vec::new();
    for c in cases(&reg, &inputs, out.path()) {
        let (text, steps) = plan_as_nobody(&root, &inputs, &c);
        assert!(
            steps.iter().all(|(_, r)| r != "error"),
            "{}: a step failed: {steps:#?}",
            c.what
        );
        let needs_root: Vec<&String> = steps
            .iter()
            .filter(|(s, r)| s.ends_with("(needs root: not read in this plan)") && r == "planned")
            .map(|(s, _)| s)
            .collect();
        assert!(
            !needs_root.is_empty(),
            "{}: the plan does not say what needs root: {steps:#?}",
            c.what
        );
        assert!(
            !text.contains("Login Succeeded") && !text.contains("sha256:"),
            "{}: the plan printed a result: {text}",
            c.what
        );
        shown.push((c.what, needs_root[0].clone()));
    }
    assert_eq!(before, tree(root.path()), "a plan wrote into the root");
    assert!(std::fs::read_dir(out.path()).unwrap().next().is_none());
    eprintln!("{shown:#?}");
}

#[test]
fn from_host_dry_run_succeeds_and_writes_nothing() {
    require_root();
    let root = TestRoot::new();
    let out = root.run(&[
        "--dry-run",
        "-vv",
        "image",
        "from-host",
        "busybox",
        "--tag",
        "bb",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    for step in ["stage a rootfs", "unpack layer <unknown>", "images.json"] {
        assert!(err.contains(step), "the plan lists {step:?}: {err}");
    }
    assert!(stdout(&out).is_empty(), "{}", stdout(&out));
    assert!(
        common::entries(root.path()).is_empty(),
        "the plan wrote {:?}",
        common::entries(root.path())
    );
}
