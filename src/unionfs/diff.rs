//! What a writable layer changed, like `docker diff`.
//!
//! Everything a container wrote is in its upper directory, so its changes
//! are read there, compared with the lower layers only to tell added from
//! changed: `A` a name no lower layer has, `C` a name that was copied up (or
//! a directory something changed in), `D` a whiteout (a 0/0 character
//! device). An opaque directory (xattr `trusted.overlay.opaque=y`, made
//! when a directory is removed and made again) hides all the lower
//! entries of that directory: each hidden name is listed as `D`. Reads only.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;

use super::whiteout::{is_overlay_opaque, is_overlay_whiteout, sorted_names};

/// One change, in the shape of Docker's `GET /containers/{id}/changes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    #[serde(rename = "Path")]
    pub path: String,
    /// Docker's numbers: 0 changed, 1 added, 2 deleted.
    #[serde(rename = "Kind")]
    pub kind: u8,
    /// `A`, `C` or `D`, as `docker diff` prints.
    #[serde(rename = "Change")]
    pub change: String,
    /// The directory is opaque: the lower layers' entries are hidden.
    #[serde(rename = "Opaque", skip_serializing_if = "std::ops::Not::not")]
    pub opaque: bool,
}

impl Change {
    fn new(path: &Path, change: char, opaque: bool) -> Change {
        let kind = match change {
            'A' => 1,
            'D' => 2,
            _ => 0,
        };
        Change {
            path: format!("/{}", path.display()),
            kind,
            change: change.to_string(),
            opaque,
        }
    }

    /// The `docker diff` line: `C /etc`.
    pub fn line(&self) -> String {
        if self.opaque {
            format!(
                "{} {}  (opaque: the lower layers' entries are hidden)",
                self.change, self.path
            )
        } else {
            format!("{} {}", self.change, self.path)
        }
    }
}

/// `unionfs diff UPPER [--lower ...]`: what UPPER changed against its
/// lowers (top first), which are read from the mount that uses UPPER (see
/// [`super::stack::find_by_upper`]) when none are given.
pub fn changes(root: &crate::state::Root, upper: &Path, lowers: &[PathBuf]) -> Result<Vec<Change>> {
    let lowers = if lowers.is_empty() {
        super::stack::find_by_upper(root, upper)?.1
    } else {
        for l in lowers {
            if !l.is_dir() {
                anyhow::bail!(
                    "lower layer {} does not exist or is not a directory",
                    l.display()
                );
            }
        }
        lowers.to_vec()
    };
    if !upper.is_dir() {
        anyhow::bail!("upper directory {} does not exist", upper.display());
    }
    diff(upper, &lowers)
}

/// The changes of `upper` against `lowers` (top first), sorted by path.
pub fn diff(upper: &Path, lowers: &[PathBuf]) -> Result<Vec<Change>> {
    let mut out = Vec::new();
    walk(upper, Path::new(""), lowers, &mut out)?;
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

fn walk(dir: &Path, rel: &Path, lowers: &[PathBuf], out: &mut Vec<Change>) -> Result<()> {
    for name in sorted_names(dir)? {
        let path = dir.join(&name);
        let sub = rel.join(&name);
        let meta = std::fs::symlink_metadata(&path)
            .with_context(|| format!("lstat {}", path.display()))?;
        if is_overlay_whiteout(&meta) {
            out.push(Change::new(&sub, 'D', false));
            continue;
        }
        let below = lower_lookup(lowers, &sub).is_some();
        let opaque = meta.is_dir() && below && is_overlay_opaque(&path);
        out.push(Change::new(&sub, if below { 'C' } else { 'A' }, opaque));
        if opaque {
            let mine: BTreeSet<OsString> = sorted_names(&path)?.into_iter().collect();
            for hidden in lower_children(lowers, &sub) {
                if !mine.contains(&hidden) {
                    out.push(Change::new(&sub.join(&hidden), 'D', false));
                }
            }
        }
        if meta.is_dir() {
            walk(&path, &sub, lowers, out)?;
        }
    }
    Ok(())
}

/// What the merged lower layers show at `rel`, if anything (top first;
/// a whiteout, a non-directory parent or an opaque parent stops the search).
pub fn lower_lookup(lowers: &[PathBuf], rel: &Path) -> Option<std::fs::Metadata> {
    let comps: Vec<_> = rel.components().collect();
    for layer in lowers {
        let mut stop_after = false;
        let mut cur = layer.clone();
        let mut present = true;
        for c in &comps[..comps.len().saturating_sub(1)] {
            cur.push(c);
            match std::fs::symlink_metadata(&cur) {
                Err(_) => {
                    present = false;
                    break;
                }
                Ok(m) if !m.is_dir() => return None,
                Ok(_) if is_overlay_opaque(&cur) => stop_after = true,
                Ok(_) => {}
            }
        }
        if present && let Ok(m) = std::fs::symlink_metadata(layer.join(rel)) {
            return if is_overlay_whiteout(&m) {
                None
            } else {
                Some(m)
            };
        }
        if stop_after {
            return None;
        }
    }
    None
}

/// The names the merged lower layers show inside directory `rel`.
pub fn lower_children(lowers: &[PathBuf], rel: &Path) -> Vec<OsString> {
    let mut seen = BTreeSet::new();
    let mut shown = Vec::new();
    for layer in lowers {
        let dir = layer.join(rel);
        match std::fs::symlink_metadata(&dir) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => break,
            Err(_) => continue,
        }
        for name in sorted_names(&dir).unwrap_or_default() {
            if !seen.insert(name.clone()) {
                continue;
            }
            let hidden = std::fs::symlink_metadata(dir.join(&name))
                .map(|m| is_overlay_whiteout(&m))
                .unwrap_or(true);
            if !hidden {
                shown.push(name);
            }
        }
        if is_overlay_opaque(&dir) {
            break;
        }
    }
    shown.sort();
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn added_and_changed_without_root() {
        let d = tempfile::tempdir().unwrap();
        let (l, u) = (d.path().join("l"), d.path().join("u"));
        std::fs::create_dir_all(l.join("etc")).unwrap();
        std::fs::write(l.join("etc/motd"), "hi").unwrap();
        std::fs::create_dir_all(u.join("etc")).unwrap();
        std::fs::write(u.join("etc/motd"), "bye").unwrap();
        std::fs::write(u.join("etc/new"), "x").unwrap();
        std::fs::create_dir_all(u.join("srv/www")).unwrap();
        let lines: Vec<String> = diff(&u, &[l]).unwrap().iter().map(Change::line).collect();
        assert_eq!(
            lines,
            vec![
                "C /etc",
                "C /etc/motd",
                "A /etc/new",
                "A /srv",
                "A /srv/www"
            ]
        );
    }

    #[test]
    fn top_layer_hides_a_name_below_by_being_a_file() {
        let d = tempfile::tempdir().unwrap();
        let (top, bottom) = (d.path().join("top"), d.path().join("bottom"));
        std::fs::create_dir_all(bottom.join("a")).unwrap();
        std::fs::write(bottom.join("a/x"), "").unwrap();
        std::fs::create_dir_all(&top).unwrap();
        std::fs::write(top.join("a"), "").unwrap();
        let lowers = [top, bottom];
        assert!(lower_lookup(&lowers, Path::new("a")).is_some());
        assert!(lower_lookup(&lowers, Path::new("a/x")).is_none());
    }

    #[test]
    fn json_uses_docker_field_names() {
        let c = Change::new(Path::new("etc"), 'C', false);
        assert_eq!(
            serde_json::to_string(&c).unwrap(),
            r#"{"Path":"/etc","Kind":0,"Change":"C"}"#
        );
    }
}
