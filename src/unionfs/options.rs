//! The overlay mount options as text, and how to make 100+ layers fit.
//!
//! The classic `mount(2)` passes every option in one string that the kernel
//! copies into a single page (4096 bytes here, see `getconf PAGE_SIZE`), so
//! `lowerdir=/var/lib/.../layer1:/var/lib/.../layer2:...` runs out of room
//! after a few dozen long paths. The portable fix (what Docker's overlay2
//! driver does with its `l/` directory of short symlinks) is to give the
//! kernel short *relative* paths: overlay resolves them from the mounting
//! process's working directory. So glassbox either changes into the common
//! parent of the layers, or, when even the relative names are too long,
//! into a directory of symlinks named `0`, `1`, ... pointing at the layers.
//! Kernels 6.8 and newer also accept `lowerdir+` one layer at a time through
//! the new mount API (`fsconfig(2)`), where the page limit does not apply.
//! Everything here is pure text; `stack.rs` does the mounting.

use std::path::{Component, Path, PathBuf};

/// The most bytes of option text `mount(2)` takes: one page, NUL included.
pub const MOUNT_DATA_LIMIT: usize = 4095;

/// The kernel's limit on lower layers (`OVL_MAX_STACK`).
pub const MAX_LOWERS: usize = 500;

/// Escape a path for overlay's option syntax: `:` separates layers and `,`
/// separates options, so both are backslash-escaped, as is `\` itself.
pub fn escape(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        if matches!(c, ':' | ',' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `--lower A:B --lower C` -> [A, B, C] (an escaped `\:` kept in a name).
pub fn split_lowers(args: &[String]) -> Vec<PathBuf> {
    args.iter()
        .flat_map(|a| split_lowerdir(a))
        .map(PathBuf::from)
        .collect()
}

/// Split an escaped `lowerdir` value into its layers.
pub fn split_lowerdir(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            ':' => {
                // `::` separates data-only layers; an empty item is skipped.
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            _ => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The `-o` text of a classic overlay mount: `lowerdir=A:B,upperdir=U,workdir=W`.
pub fn mount_data(lowers: &[String], upper: Option<&Path>, work: Option<&Path>) -> String {
    let lower: Vec<String> = lowers.iter().map(|l| escape(l)).collect();
    let mut data = format!("lowerdir={}", lower.join(":"));
    if let Some(u) = upper {
        data.push_str(&format!(",upperdir={}", escape(&u.display().to_string())));
    }
    if let Some(w) = work {
        data.push_str(&format!(",workdir={}", escape(&w.display().to_string())));
    }
    data
}

/// How the lower layers are named in a classic mount's option text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathPlan {
    /// Absolute paths fit in one page as they are.
    Absolute { data: String },
    /// `cd DIR`, then name each layer relative to it.
    CommonParent {
        dir: PathBuf,
        names: Vec<String>,
        data: String,
    },
    /// Make DIR with one short symlink per layer (`0 -> /abs/layer`), `cd`
    /// into it, and name the layers by their links.
    Symlinks {
        dir: PathBuf,
        links: Vec<(String, PathBuf)>,
        data: String,
    },
}

impl PathPlan {
    pub fn data(&self) -> &str {
        match self {
            PathPlan::Absolute { data }
            | PathPlan::CommonParent { data, .. }
            | PathPlan::Symlinks { data, .. } => data,
        }
    }

    /// The directory to change into before `mount(2)`, if any.
    pub fn chdir(&self) -> Option<&Path> {
        match self {
            PathPlan::Absolute { .. } => None,
            PathPlan::CommonParent { dir, .. } | PathPlan::Symlinks { dir, .. } => Some(dir),
        }
    }

    pub fn describe(&self) -> &'static str {
        match self {
            PathPlan::Absolute { .. } => "absolute paths",
            PathPlan::CommonParent { .. } => "paths relative to the layers' common parent",
            PathPlan::Symlinks { .. } => "short symlinks in a link directory",
        }
    }
}

/// Short name of the n-th symlink: base 36, so 500 layers need 2 characters.
pub fn link_name(n: usize) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut n = n;
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[n % 36]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).expect("ascii digits")
}

/// The deepest directory that holds every path (absolute paths in).
pub fn common_parent(paths: &[PathBuf]) -> Option<PathBuf> {
    let first = paths.first()?;
    let mut common: Vec<Component> = first.parent()?.components().collect();
    for p in &paths[1..] {
        let parent: Vec<Component> = p.parent()?.components().collect();
        let n = common
            .iter()
            .zip(parent.iter())
            .take_while(|(a, b)| a == b)
            .count();
        common.truncate(n);
    }
    Some(common.iter().collect())
}

/// Choose how to name the lowers so the option text fits in one page.
/// `link_dir` is where a symlink directory would go. `force_short` skips the
/// absolute form even when it fits (to show and test the portable method).
pub fn plan(
    lowers: &[PathBuf],
    upper: Option<&Path>,
    work: Option<&Path>,
    link_dir: &Path,
    force_short: bool,
) -> Result<PathPlan, String> {
    let abs: Vec<String> = lowers.iter().map(|l| l.display().to_string()).collect();
    let data = mount_data(&abs, upper, work);
    if data.len() <= MOUNT_DATA_LIMIT && !force_short {
        return Ok(PathPlan::Absolute { data });
    }
    if let Some(dir) = common_parent(lowers).filter(|d| d != Path::new("/")) {
        let names: Option<Vec<String>> = lowers
            .iter()
            .map(|l| {
                l.strip_prefix(&dir)
                    .ok()
                    .map(|r| r.display().to_string())
                    .filter(|r| !r.is_empty())
            })
            .collect();
        if let Some(names) = names {
            let data = mount_data(&names, upper, work);
            if data.len() <= MOUNT_DATA_LIMIT {
                return Ok(PathPlan::CommonParent { dir, names, data });
            }
        }
    }
    let links: Vec<(String, PathBuf)> = lowers
        .iter()
        .enumerate()
        .map(|(i, l)| (link_name(i), l.clone()))
        .collect();
    let names: Vec<String> = links.iter().map(|(n, _)| n.clone()).collect();
    let data = mount_data(&names, upper, work);
    if data.len() > MOUNT_DATA_LIMIT {
        return Err(format!(
            "the mount options are {} bytes even with one-character layer names, more than the {MOUNT_DATA_LIMIT} that fit in one page: use shorter upper and work paths",
            data.len()
        ));
    }
    Ok(PathPlan::Symlinks {
        dir: link_dir.to_path_buf(),
        links,
        data,
    })
}

/// The options of an overlay mount as the kernel shows them in mountinfo.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShownOptions {
    pub lowers: Vec<String>,
    pub upper: Option<String>,
    pub work: Option<String>,
}

/// Parse overlay's super options (`rw,lowerdir=a:b,upperdir=/u,...`); both
/// `lowerdir=A:B` and repeated `lowerdir+=A` forms are understood.
pub fn parse_shown(super_options: &str) -> ShownOptions {
    let mut out = ShownOptions::default();
    for opt in split_options(super_options) {
        if let Some(v) = opt.strip_prefix("lowerdir=") {
            out.lowers.extend(split_lowerdir(v));
        } else if let Some(v) = opt.strip_prefix("lowerdir+=") {
            out.lowers.push(unescape(v));
        } else if let Some(v) = opt.strip_prefix("upperdir=") {
            out.upper = Some(unescape(v));
        } else if let Some(v) = opt.strip_prefix("workdir=") {
            out.work = Some(unescape(v));
        }
    }
    out
}

/// Split on commas that are not backslash-escaped (the escapes are kept).
fn split_options(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                cur.push(c);
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            ',' => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out
}

fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layers(prefix: &str, n: usize) -> Vec<PathBuf> {
        (0..n)
            .map(|i| PathBuf::from(format!("{prefix}/layer-{i:03}")))
            .collect()
    }

    #[test]
    fn escapes_separators_and_splits_back() {
        assert_eq!(escape("/a:b,c"), "/a\\:b\\,c");
        let data = mount_data(&["/x:y".into(), "/z".into()], None, None);
        assert_eq!(data, "lowerdir=/x\\:y:/z");
        assert_eq!(split_lowerdir("/x\\:y:/z"), vec!["/x:y", "/z"]);
        assert_eq!(split_lowerdir("/a::/data"), vec!["/a", "/data"]);
    }

    #[test]
    fn leftmost_lower_stays_first() {
        let d = mount_data(
            &["top".into(), "bottom".into()],
            Some(Path::new("/u")),
            Some(Path::new("/w")),
        );
        assert_eq!(d, "lowerdir=top:bottom,upperdir=/u,workdir=/w");
    }

    #[test]
    fn few_layers_use_absolute_paths() {
        let p = plan(&layers("/tmp/x", 3), None, None, Path::new("/l"), false).unwrap();
        assert!(matches!(p, PathPlan::Absolute { .. }));
        assert_eq!(
            p.data(),
            "lowerdir=/tmp/x/layer-000:/tmp/x/layer-001:/tmp/x/layer-002"
        );
    }

    #[test]
    fn many_layers_go_relative_to_their_parent() {
        let lowers = layers("/var/lib/glassbox/some/long/layers/dir", 120);
        let abs: Vec<String> = lowers.iter().map(|l| l.display().to_string()).collect();
        assert!(mount_data(&abs, None, None).len() > MOUNT_DATA_LIMIT);
        let p = plan(&lowers, None, None, Path::new("/l"), false).unwrap();
        match &p {
            PathPlan::CommonParent { dir, names, .. } => {
                assert_eq!(dir, Path::new("/var/lib/glassbox/some/long/layers/dir"));
                assert_eq!(names[0], "layer-000");
                assert_eq!(names.len(), 120);
            }
            other => panic!("expected a common parent, got {other:?}"),
        }
        assert!(p.data().len() <= MOUNT_DATA_LIMIT);
        assert_eq!(
            p.chdir(),
            Some(Path::new("/var/lib/glassbox/some/long/layers/dir"))
        );
    }

    #[test]
    fn long_layer_names_go_through_symlinks() {
        let lowers: Vec<PathBuf> = (0..120)
            .map(|i| PathBuf::from(format!("/s/{:064x}/diff", i)))
            .collect();
        let p = plan(
            &lowers,
            Some(Path::new("/u")),
            Some(Path::new("/w")),
            Path::new("/l"),
            false,
        )
        .unwrap();
        match &p {
            PathPlan::Symlinks { dir, links, data } => {
                assert_eq!(dir, Path::new("/l"));
                assert_eq!(links[0].0, "0");
                assert_eq!(links[119].0, "3b");
                assert!(data.starts_with("lowerdir=0:1:2:"));
                assert!(data.ends_with(",upperdir=/u,workdir=/w"));
            }
            other => panic!("expected symlinks, got {other:?}"),
        }
    }

    #[test]
    fn force_short_skips_absolute() {
        let p = plan(&layers("/tmp/x", 2), None, None, Path::new("/l"), true).unwrap();
        assert!(matches!(p, PathPlan::CommonParent { .. }), "{p:?}");
    }

    #[test]
    fn layers_under_root_use_symlinks() {
        let lowers = vec![PathBuf::from("/a"), PathBuf::from("/b")];
        let p = plan(&lowers, None, None, Path::new("/l"), true).unwrap();
        assert!(matches!(p, PathPlan::Symlinks { .. }), "{p:?}");
    }

    #[test]
    fn link_names_are_short() {
        assert_eq!(link_name(0), "0");
        assert_eq!(link_name(35), "z");
        assert_eq!(link_name(36), "10");
        assert_eq!(link_name(499), "dv");
    }

    #[test]
    fn common_parent_of_siblings_and_cousins() {
        let p = |s: &str| PathBuf::from(s);
        assert_eq!(common_parent(&[p("/a/b/c"), p("/a/b/d")]), Some(p("/a/b")));
        assert_eq!(common_parent(&[p("/a/b/c"), p("/a/x/d")]), Some(p("/a")));
    }

    #[test]
    fn parses_both_shown_forms() {
        let s = parse_shown("rw,lowerdir=/a\\:1:/b,upperdir=/u,workdir=/w,uuid=on");
        assert_eq!(s.lowers, vec!["/a:1", "/b"]);
        assert_eq!(s.upper.as_deref(), Some("/u"));
        assert_eq!(s.work.as_deref(), Some("/w"));
        let s = parse_shown("rw,lowerdir+=/a,lowerdir+=/b\\,c,upperdir=/u,workdir=/w");
        assert_eq!(s.lowers, vec!["/a", "/b,c"]);
    }
}
