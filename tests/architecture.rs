//! The shape of the tree, checked by reading the sources: every side
//! effect on the host goes through a `trace::Step` (so `-v`, `--explain`,
//! `--trace-json` and `--dry-run` see it), and `src/cmd/` only parses and
//! prints.
//!
//! A side effect is a call that changes files (`std::fs::write`,
//! `remove_file`, `rename`, ...), starts a program (`Command::new`), or
//! makes a syscall that changes the system (`mount`, `umount`, `kill`,
//! `setns`, `unshare`, `sethostname`, `libc::syscall`). It is fine inside a
//! closure given to a step (`.run(`, `.apply(`, `.observe(`,
//! `.observe_or_plan(`), and in `src/host/` and `src/trace.rs`, which are
//! the traced primitives themselves. Anything else needs an entry in
//! [`ALLOWED`] with the reason.

use std::path::{Path, PathBuf};

/// Calls that change the host.
const EFFECTS: &[&str] = &[
    "fs::write(",
    "fs::remove_file(",
    "fs::remove_dir(",
    "fs::remove_dir_all(",
    "fs::create_dir(",
    "fs::create_dir_all(",
    "fs::rename(",
    "fs::set_permissions(",
    "fs::hard_link(",
    "os::unix::fs::symlink(",
    "File::create(",
    "Command::new(",
    "nix::mount::mount(",
    "nix::mount::umount(",
    "nix::mount::umount2(",
    "signal::kill(",
    "libc::kill(",
    "sched::setns(",
    "sched::unshare(",
    "unistd::sethostname(",
    "libc::syscall(",
];

/// Where a step runs its effect.
const STEP_CALLS: &[&str] = &[".run(", ".apply(", ".observe(", ".observe_or_plan("];

/// (file, effect, reason): side effects outside a step, each on purpose.
const ALLOWED: &[(&str, &str, &str)] = &[
    (
        "src/state/atomic.rs",
        "",
        "write_atomically runs inside the state-write step (write_step(..).apply)",
    ),
    (
        "src/state/lock.rs",
        "fs::create_dir_all",
        "a lock file's directory: the state layer's own plumbing, under every step that takes a lock",
    ),
    (
        "src/state/paths.rs",
        "",
        "the state roots themselves (ensure): made and locked to 0700 before any step can record anything",
    ),
    (
        "src/ns/child.rs",
        "libc::syscall",
        "close_range and rt_sigaction in the child just before execve: its own descriptors and signal table, not the host",
    ),
    (
        "src/ns/clone.rs",
        "libc::syscall",
        "clone3 and pidfd_send_signal: called inside the clone step and the signal step",
    ),
    (
        "src/ns/inroot.rs",
        "libc::syscall",
        "openat2: resolving inside a container root, called inside the bind-mount and working-directory steps (and for reads)",
    ),
    (
        "src/unionfs/newapi.rs",
        "libc::syscall",
        "fsopen/fsconfig/fsmount/move_mount: each wrapped in its own step by unionfs::stack",
    ),
    (
        "src/unionfs/demo.rs",
        "",
        "the demo's file changes go through fs_step, which runs each in a step",
    ),
    (
        "src/cgroup/kill.rs",
        "signal::kill",
        "sigkill is called inside the kill step of a frozen group",
    ),
    (
        "src/image/blob.rs",
        "",
        "blob_writer and commit run inside the step that stores the blob",
    ),
    (
        "src/image/import.rs",
        "",
        "stage_rootfs and its helpers run inside the 'stage a rootfs' step",
    ),
    (
        "src/image/output.rs",
        "",
        "the temporary file of save -o, written and renamed inside the save step",
    ),
    (
        "src/image/store.rs",
        "",
        "unpack_layer's work directory and layer.json, inside the unpack step",
    ),
    (
        "src/image/unpack.rs",
        "",
        "unpacking a tar's entries, inside the unpack step",
    ),
    (
        "src/net/nftable.rs",
        "Command::new",
        "launch runs nft/iptables inside an apply step (changes) or an observe step (reads)",
    ),
    (
        "src/container/client.rs",
        "libc::syscall",
        "close_range in the forked shim just before execve: its own descriptors, not the host",
    ),
    (
        "src/container/client.rs",
        "Command::new",
        "the shim's command is built here and spawned inside the 'start the shim' step",
    ),
    (
        "src/volume/copyup.rs",
        "",
        "copy_tree runs inside the copy-up step (volume::copyup::fill)",
    ),
    (
        "src/container/logfile.rs",
        "",
        "the json-file log's own rotation in the shim, as Docker's log driver (the container's output is not traced)",
    ),
];

/// The sources with comments and string literals blanked out (kept the
/// same length, so offsets still map to lines).
fn code_only(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = b.to_vec();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'/' && b.get(i + 1) == Some(&b'/') {
            while i < b.len() && b[i] != b'\n' {
                out[i] = b' ';
                i += 1;
            }
        } else if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
            while i < b.len() && !(b[i] == b'*' && b.get(i + 1) == Some(&b'/')) {
                if b[i] != b'\n' {
                    out[i] = b' ';
                }
                i += 1;
            }
            i += 2;
        } else if b[i] == b'r' && (b.get(i + 1) == Some(&b'"') || b.get(i + 1) == Some(&b'#')) {
            // raw string r"..." or r#"..."#
            let mut j = i + 1;
            let mut hashes = 0;
            while b.get(j) == Some(&b'#') {
                hashes += 1;
                j += 1;
            }
            if b.get(j) != Some(&b'"') {
                i += 1;
                continue;
            }
            j += 1;
            let close: Vec<u8> = std::iter::once(b'"')
                .chain(std::iter::repeat_n(b'#', hashes))
                .collect();
            while j < b.len() && !b[j..].starts_with(&close) {
                if b[j] != b'\n' {
                    out[j] = b' ';
                }
                j += 1;
            }
            i = j + close.len();
        } else if b[i] == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' {
                    out[i] = b' ';
                    i += 1;
                }
                if i < b.len() && b[i] != b'\n' {
                    out[i] = b' ';
                }
                i += 1;
            }
            i += 1;
        } else if b[i] == b'\'' && b.get(i + 2) == Some(&b'\'') {
            // a char literal like '"'
            out[i + 1] = b' ';
            i += 3;
        } else {
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Byte ranges of the argument lists of step calls (`.run( ... )`).
fn step_regions(code: &str) -> Vec<(usize, usize)> {
    let b = code.as_bytes();
    let mut out = Vec::new();
    for call in STEP_CALLS {
        let mut from = 0;
        while let Some(pos) = code[from..].find(call) {
            let open = from + pos + call.len() - 1;
            let mut depth = 0i32;
            let mut end = open;
            for (k, c) in b.iter().enumerate().skip(open) {
                match c {
                    b'(' => depth += 1,
                    b')' => {
                        depth -= 1;
                        if depth == 0 {
                            end = k;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            out.push((open, end));
            from = open + 1;
        }
    }
    out
}

/// `#[cfg(test)]` modules: tests may touch files freely.
fn test_regions(code: &str) -> Vec<(usize, usize)> {
    let b = code.as_bytes();
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(pos) = code[from..].find("#[cfg(test)]") {
        let start = from + pos;
        let Some(open) = code[start..].find('{').map(|o| start + o) else {
            break;
        };
        let mut depth = 0i32;
        let mut end = b.len();
        for (k, c) in b.iter().enumerate().skip(open) {
            match c {
                b'{' => depth += 1,
                b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = k;
                        break;
                    }
                }
                _ => {}
            }
        }
        out.push((start, end));
        from = end.max(start + 1);
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Every effect outside a step: (file, line, effect).
fn untraced_effects(src_dir: &Path) -> Vec<(String, usize, String)> {
    let mut files = Vec::new();
    rust_files(src_dir, &mut files);
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let rel = f
            .strip_prefix(src_dir.parent().unwrap())
            .unwrap()
            .display()
            .to_string();
        if rel.starts_with("src/host/") || rel == "src/trace.rs" {
            continue;
        }
        let code = code_only(&std::fs::read_to_string(&f).unwrap());
        let steps = step_regions(&code);
        let tests = test_regions(&code);
        for effect in EFFECTS {
            let mut from = 0;
            while let Some(pos) = code[from..].find(effect) {
                let at = from + pos;
                from = at + 1;
                // `OpenOptions`-free paths like `tokio::fs::write(` don't exist here;
                // a method `.fs::` can't occur. Skip definitions such as `fn remove_file(`.
                let before = &code[..at];
                if before.ends_with("fn ") {
                    continue;
                }
                let inside = |rs: &[(usize, usize)]| rs.iter().any(|(a, b)| *a < at && at < *b);
                if inside(&steps) || inside(&tests) {
                    continue;
                }
                let line = code[..at].matches('\n').count() + 1;
                out.push((rel.clone(), line, effect.trim_end_matches('(').to_string()));
            }
        }
    }
    out
}

#[test]
fn every_side_effect_outside_host_and_trace_is_a_step() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let found = untraced_effects(&src);
    let unexplained: Vec<String> = found
        .iter()
        .filter(|(file, _, effect)| {
            !ALLOWED
                .iter()
                .any(|(f, e, _)| f == file && (e == effect || e.is_empty()))
        })
        .map(|(f, l, e)| format!("{f}:{l}: {e} outside a trace::Step"))
        .collect();
    assert!(
        unexplained.is_empty(),
        "{} side effects are not traced steps (put them in a Step, or in ALLOWED with the reason):\n{}",
        unexplained.len(),
        unexplained.join("\n")
    );
}

#[test]
fn src_cmd_only_parses_and_prints() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src.join("cmd"), &mut files);
    let mut wrong = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let code = code_only(&text);
        let rel = f
            .strip_prefix(src.parent().unwrap())
            .unwrap()
            .display()
            .to_string();
        for effect in EFFECTS
            .iter()
            .chain(&["Step::new(", "nix::", "libc::", "Netlink::"])
        {
            if code.contains(effect) {
                wrong.push(format!(
                    "{rel}: calls {effect} (the mechanism's library should)"
                ));
            }
        }
        let lines = text.lines().count();
        if lines > 260 {
            wrong.push(format!(
                "{rel}: {lines} lines (src/cmd files parse and print; keep them under ~250)"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_scanner_finds_effects_and_knows_steps_comments_and_strings() {
    let code = code_only(
        "fn a() { std::fs::write(p, x); }\n\
         fn b() { Step::new().run(|| std::fs::write(p, x)); }\n\
         // std::fs::write(p, x)\n\
         fn c() { let s = \"fs::write(\"; }\n",
    );
    let steps = step_regions(&code);
    let hits: Vec<usize> = code
        .match_indices("fs::write(")
        .map(|(i, _)| i)
        .filter(|i| !steps.iter().any(|(a, b)| a < i && i < b))
        .collect();
    assert_eq!(hits.len(), 1, "{code}");
}
