//! `unionfs demo`: a guided run of an overlay stack for the lab.
//!
//! Two lower layers, one upper, one mount; then one operation at a time
//! through the merged view, each followed by what changed in which layer
//! directory: a read served by a lower layer, a new file landing in upper,
//! copy-up of a lower file (the lower copy untouched, the inode seen through
//! the mount), a whiteout for a deleted lower file, an opaque directory for
//! a directory removed and made again. Then unmount and show every layer.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::host::{self, shell_quote};
use crate::state::Root;
use crate::state::resources::Owner;
use crate::trace::{Action, Mechanism, Step};

use super::check::Request;
use super::diff;
use super::stack::{self, Method, MountOptions};
use super::whiteout::{OPAQUE_XATTR, is_overlay_opaque, is_overlay_whiteout};

const M: Mechanism = Mechanism::Unionfs;

/// The layer directories of the demo, by role.
struct Dirs {
    base: PathBuf,
    app: PathBuf,
    upper: PathBuf,
    work: PathBuf,
    merged: PathBuf,
}

impl Dirs {
    fn new(dir: &Path) -> Dirs {
        Dirs {
            base: dir.join("lower-base"),
            app: dir.join("lower-app"),
            upper: dir.join("upper"),
            work: dir.join("work"),
            merged: dir.join("merged"),
        }
    }

    /// The layers whose contents are watched, by name.
    fn layers(&self) -> [(&'static str, &Path); 3] {
        [
            ("lower-base", &self.base),
            ("lower-app", &self.app),
            ("upper", &self.upper),
        ]
    }
}

/// One directory entry as the demo describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    what: String,
    content: Option<Vec<u8>>,
}

fn describe(path: &Path) -> Result<Seen> {
    let meta =
        std::fs::symlink_metadata(path).with_context(|| format!("lstat {}", path.display()))?;
    if is_overlay_whiteout(&meta) {
        return Ok(Seen {
            what: "whiteout: character device 0/0".into(),
            content: None,
        });
    }
    if meta.is_dir() {
        let what = if is_overlay_opaque(path) {
            format!("directory, opaque ({OPAQUE_XATTR}=y)")
        } else {
            "directory".into()
        };
        return Ok(Seen {
            what,
            content: None,
        });
    }
    if meta.is_file() {
        let content = std::fs::read(path).with_context(|| format!("read {}", path.display()))?;
        return Ok(Seen {
            what: format!("file {:?}", String::from_utf8_lossy(&content).trim_end()),
            content: Some(content),
        });
    }
    Ok(Seen {
        what: "other".into(),
        content: None,
    })
}

/// Every entry under `dir`, by relative path.
fn snapshot(dir: &Path) -> Result<BTreeMap<String, Seen>> {
    let mut out = BTreeMap::new();
    fn walk(dir: &Path, rel: &str, out: &mut BTreeMap<String, Seen>) -> Result<()> {
        let mut names: Vec<_> = std::fs::read_dir(dir)
            .with_context(|| format!("list {}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.file_name()))
            .collect();
        names.sort();
        for n in names {
            let path = dir.join(&n);
            let key = format!("{rel}{}", n.to_string_lossy());
            let seen = describe(&path)?;
            let is_dir = std::fs::symlink_metadata(&path)?.is_dir();
            out.insert(key.clone(), seen);
            if is_dir {
                walk(&path, &format!("{key}/"), out)?;
            }
        }
        Ok(())
    }
    walk(dir, "", &mut out)?;
    Ok(out)
}

type Snap = Vec<BTreeMap<String, Seen>>;

fn snap_all(d: &Dirs) -> Result<Snap> {
    d.layers().iter().map(|(_, p)| snapshot(p)).collect()
}

/// Print what changed in each layer between two snapshots.
fn report(out: &mut impl std::io::Write, d: &Dirs, before: &Snap) -> Result<Snap> {
    let after = snap_all(d)?;
    for (i, (name, _)) in d.layers().iter().enumerate() {
        let (b, a) = (&before[i], &after[i]);
        let mut lines = Vec::new();
        for (k, v) in a {
            match b.get(k) {
                None => lines.push(format!("+ {k}  ({})", v.what)),
                Some(old) if old != v => lines.push(format!("~ {k}  ({})", v.what)),
                _ => {}
            }
        }
        for k in b.keys().filter(|k| !a.contains_key(*k)) {
            lines.push(format!("- {k}"));
        }
        if lines.is_empty() {
            writeln!(out, "     {name:<10} unchanged")?;
        } else {
            for (j, l) in lines.iter().enumerate() {
                let label = if j == 0 { *name } else { "" };
                writeln!(out, "     {label:<10} {l}")?;
            }
        }
    }
    Ok(after)
}

/// A read through the mount. In a plan the file does not exist yet (the
/// steps that make it were only listed), so the read is listed too.
fn read_step(path: &Path, planned: bool) -> Result<String> {
    let step = Step::new(M, Action::FileRead, format!("read {}", path.display()))
        .arg("path", path.display())
        .shell(format!("cat {}", shell_quote(&path.display().to_string())))
        .why("a read through the mount is served by the topmost layer that has the name; nothing is copied")
        .man("read(2)");
    if planned {
        return step.run(|| Ok(String::new()));
    }
    step.observe(|| {
        std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))
    })
}

fn fs_step(
    summary: String,
    shell: String,
    why: &str,
    man: &str,
    f: impl FnOnce() -> Result<()>,
) -> Result<()> {
    Step::new(M, Action::Filesystem, summary)
        .shell(shell)
        .why(why)
        .man(man)
        .run(f)
}

/// `echo TEXT > PATH`: one line, newline included.
fn write_line(path: &Path, text: &str, why: &str) -> Result<()> {
    Step::new(
        M,
        Action::FileWrite,
        format!("write {text:?} to {}", path.display()),
    )
    .arg("path", path.display())
    .arg("value", text)
    .shell(format!("echo {} > {}", shell_quote(text), q(path)))
    .why(why)
    .man("write(2)")
    .run(|| {
        std::fs::write(path, format!("{text}\n"))
            .with_context(|| format!("write {}", path.display()))
    })
}

fn q(p: &Path) -> String {
    shell_quote(&p.display().to_string())
}

/// Run the demo in `dir` (made fresh), writing the narrative to `out`.
/// Under `--dry-run` every step is listed and none is taken; the narrative
/// then says what each step would show.
pub fn run(root: &Root, dir: &Path, method: Method, out: &mut impl std::io::Write) -> Result<()> {
    if dir.exists()
        && std::fs::read_dir(dir)
            .with_context(|| format!("list {}", dir.display()))?
            .next()
            .is_some()
    {
        bail!(
            "{} is not empty: the demo builds its layers in a new or empty directory (remove it with rm -r, or give another DIR)",
            dir.display()
        );
    }
    let d = Dirs::new(dir);
    writeln!(out, "unionfs demo in {}", dir.display())?;
    writeln!(out)?;
    writeln!(out, "1. build two lower layers (read-only once mounted)")?;
    // The first step says whether this is a plan: then nothing that the
    // later steps would read exists.
    let planned = !host::mkdir_step(M, &d.base)
        .apply(|| {
            std::fs::create_dir_all(&d.base).with_context(|| format!("mkdir {}", d.base.display()))
        })?
        .ran();
    for p in [&d.app, &d.upper, &d.work, &d.merged] {
        host::mkdir(M, p)?;
    }
    for sub in ["etc", "app", "data"] {
        host::mkdir(M, &d.base.join(sub))?;
    }
    host::mkdir(M, &d.app.join("app"))?;
    let why = "build a layer: a layer is just a directory";
    write_line(&d.base.join("etc/motd"), "welcome from the base layer", why)?;
    write_line(&d.base.join("app/version"), "1", why)?;
    write_line(&d.base.join("data/a"), "a", why)?;
    write_line(&d.base.join("data/b"), "b", why)?;
    write_line(&d.app.join("app/version"), "2", why)?;
    let mut snap = if planned { Vec::new() } else { snap_all(&d)? };
    if planned {
        writeln!(
            out,
            "     lower-base etc/motd, app/version, data/a, data/b (planned)"
        )?;
        writeln!(out, "     lower-app  app/version (planned)")?;
    }
    for (name, _) in &d.layers()[..2] {
        if planned {
            break;
        }
        let i = if *name == "lower-base" { 0 } else { 1 };
        let list: Vec<String> = snap[i]
            .iter()
            .filter(|(_, v)| v.content.is_some())
            .map(|(k, _)| k.clone())
            .collect();
        writeln!(out, "     {name:<10} {}", list.join(", "))?;
    }

    writeln!(out)?;
    writeln!(
        out,
        "2. mount lowerdir=lower-app:lower-base (leftmost is on top), upperdir=upper, workdir=work on merged"
    )?;
    let req = Request {
        lowers: vec![d.app.clone(), d.base.clone()],
        upper: Some(d.upper.clone()),
        work: Some(d.work.clone()),
        target: d.merged.clone(),
    };
    let opts = MountOptions {
        method,
        force_short: false,
        no_preflight: false,
        owner: Owner::Process {
            pid: std::process::id(),
        },
        layers_planned: planned,
    };
    stack::mount(root, &req, &opts)?;
    let result = steps(&d, &mut snap, out, planned);
    let unmounted = if planned {
        stack::umount_planned(root, &d.merged)
    } else {
        stack::umount(root, &d.merged)
    };
    result?;
    unmounted?;

    writeln!(out)?;
    if planned {
        writeln!(
            out,
            "8. unmount; each layer keeps what the steps left in it"
        )?;
        writeln!(out)?;
        writeln!(out, "dry run: nothing was made, mounted or changed")?;
        return Ok(());
    }
    writeln!(out, "8. unmounted; what each layer holds now")?;
    let after = snap_all(&d)?;
    for (i, (name, _)) in d.layers().iter().enumerate() {
        writeln!(out, "   {name}/")?;
        for (k, v) in &after[i] {
            writeln!(out, "     {k:<14} {}", v.what)?;
        }
    }
    let merged_left = snapshot(&d.merged)?;
    writeln!(
        out,
        "   merged/ is an empty directory again ({} entries): the union existed only while mounted",
        merged_left.len()
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "   the upper layer as `unionfs diff` (and docker diff) reports it:"
    )?;
    for c in diff::diff(&d.upper, &[d.app.clone(), d.base.clone()])? {
        writeln!(out, "     {}", c.line())?;
    }
    Ok(())
}

/// What changed in each layer since `snap` (nothing to look at in a plan).
fn show_changes(
    out: &mut impl std::io::Write,
    d: &Dirs,
    snap: &mut Snap,
    planned: bool,
) -> Result<()> {
    if planned {
        writeln!(
            out,
            "     (planned: the layers are looked at after the real step)"
        )?;
    } else {
        *snap = report(out, d, snap)?;
    }
    Ok(())
}

fn steps(d: &Dirs, snap: &mut Snap, out: &mut impl std::io::Write, planned: bool) -> Result<()> {
    let version = read_step(&d.merged.join("app/version"), planned)?;
    if !planned {
        writeln!(
            out,
            "     merged/app/version reads {:?}: lower-app's copy hides lower-base's \"1\"",
            version.trim_end()
        )?;
    }

    writeln!(out)?;
    writeln!(out, "3. read merged/etc/motd")?;
    let motd = read_step(&d.merged.join("etc/motd"), planned)?;
    if !planned {
        writeln!(
            out,
            "     reads {:?}, served from lower-base",
            motd.trim_end()
        )?;
    }
    show_changes(out, d, snap, planned)?;

    writeln!(out)?;
    writeln!(out, "4. write a new file merged/notes.txt")?;
    write_line(
        &d.merged.join("notes.txt"),
        "written through the mount",
        "a new name goes straight to the upper layer",
    )?;
    show_changes(out, d, snap, planned)?;

    writeln!(out)?;
    writeln!(
        out,
        "5. modify a lower file: append to merged/app/version (copy-up)"
    )?;
    let file = d.merged.join("app/version");
    let before = if planned {
        None
    } else {
        Some((
            std::fs::metadata(&file)?.ino(),
            std::fs::read(d.app.join("app/version"))?,
        ))
    };
    fs_step(
        format!("append to {}", file.display()),
        format!("echo patched >> {}", q(&file)),
        "the first write to a lower file copies it up: overlay copies the whole file into upper (via work) and the write goes to that copy",
        "open(2)",
        || {
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .open(&file)
                .with_context(|| format!("open {} for append", file.display()))?;
            f.write_all(b"patched\n")
                .with_context(|| format!("write {}", file.display()))
        },
    )?;
    show_changes(out, d, snap, planned)?;
    if let Some((ino_before, lower_before)) = before {
        let ino_after = std::fs::metadata(&file)?.ino();
        let ino_upper = std::fs::metadata(d.upper.join("app/version"))?.ino();
        let lower_after = std::fs::read(d.app.join("app/version"))?;
        writeln!(
            out,
            "     lower-app/app/version is byte-identical: {}",
            if lower_before == lower_after {
                "yes"
            } else {
                "NO"
            }
        )?;
        writeln!(
            out,
            "     inode through merged: inode {ino_before} before, inode {ino_after} after ({}); upper/app/version is inode {ino_upper}",
            if ino_before == ino_after {
                "unchanged: overlay keeps reporting the lower file's inode number"
            } else {
                "changed: the file is now upper's copy"
            }
        )?;
    }

    writeln!(out)?;
    writeln!(out, "6. delete a lower file: rm merged/etc/motd (whiteout)")?;
    let motd = d.merged.join("etc/motd");
    fs_step(
        format!("remove {}", motd.display()),
        format!("rm {}", q(&motd)),
        "a lower layer cannot change, so overlay records the deletion in upper as a whiteout",
        "unlink(2)",
        || std::fs::remove_file(&motd).with_context(|| format!("unlink {}", motd.display())),
    )?;
    show_changes(out, d, snap, planned)?;
    if !planned {
        writeln!(
            out,
            "     merged/etc/motd exists: {}; lower-base/etc/motd exists: {}",
            yes(motd.exists()),
            yes(d.base.join("etc/motd").exists())
        )?;
    }

    writeln!(out)?;
    writeln!(
        out,
        "7. remove merged/data and make it again (opaque directory)"
    )?;
    let data = d.merged.join("data");
    fs_step(
        format!("remove directory {}", data.display()),
        format!("rm -r {}", q(&data)),
        "removing a lower directory whites out each entry, then the directory itself",
        "rmdir(2)",
        || std::fs::remove_dir_all(&data).with_context(|| format!("rm -r {}", data.display())),
    )?;
    fs_step(
        format!("make directory {}", data.display()),
        format!("mkdir {}", q(&data)),
        "a directory made over a whiteout is marked opaque, so the old lower entries stay hidden",
        "mkdir(2)",
        || std::fs::create_dir(&data).with_context(|| format!("mkdir {}", data.display())),
    )?;
    write_line(
        &data.join("new"),
        "new",
        "a new name in the opaque directory goes to upper",
    )?;
    show_changes(out, d, snap, planned)?;
    if !planned {
        let mut shown: Vec<String> = std::fs::read_dir(&data)?
            .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect();
        shown.sort();
        writeln!(
            out,
            "     merged/data lists [{}]; lower-base/data still holds a, b (hidden)",
            shown.join(", ")
        )?;
    }
    Ok(())
}

fn yes(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}
