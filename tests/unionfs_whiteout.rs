//! OCI whiteouts to overlay form and back, on a crafted layer with nested
//! deletions and opaque directories: unpack (`.wh.NAME` -> 0/0 device,
//! `.wh..wh..opq` -> opaque xattr), check the kernel honours the result as
//! a real lower layer, export back to an OCI tar, compare entry by entry.

mod common;
mod unionfs_util;

use std::collections::BTreeSet;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use common::TestRoot;
use glassbox::unionfs::whiteout::{
    LayerKind, is_overlay_opaque, overlay_to_oci, unpack_oci_layer, write_oci_tar,
};
use unionfs_util::*;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum E {
    Dir(String),
    File(String, Vec<u8>),
    Link(String, String),
}

/// The crafted layer: what a real image layer that deletes and replaces
/// things below it looks like.
fn crafted() -> Vec<E> {
    let d = |p: &str| E::Dir(p.into());
    let f = |p: &str, c: &str| E::File(p.into(), c.as_bytes().to_vec());
    vec![
        f(".wh.tmp", ""),
        d("etc"),
        f("etc/.wh.shadow", ""),
        f("etc/passwd", "root:x:0:0\n"),
        E::Link("link".into(), "etc/passwd".into()),
        d("opt"),
        d("opt/a"),
        d("opt/a/b"),
        f("opt/a/b/.wh..wh..opq", ""),
        d("usr"),
        d("usr/lib"),
        d("usr/lib/deep"),
        f("usr/lib/deep/.wh.gone.so", ""),
        f("usr/lib/deep/kept.so", "kept"),
        d("var"),
        d("var/cache"),
        f("var/cache/.wh..wh..opq", ""),
        f("var/cache/fresh", "fresh"),
    ]
}

fn to_tar(entries: &[E]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_gnu();
        h.set_mtime(0);
        match e {
            E::Dir(p) => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
                h.set_size(0);
                b.append_data(&mut h, format!("{p}/"), std::io::empty())
                    .unwrap();
            }
            E::File(p, c) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(0o644);
                h.set_size(c.len() as u64);
                b.append_data(&mut h, p, c.as_slice()).unwrap();
            }
            E::Link(p, t) => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_mode(0o777);
                h.set_size(0);
                b.append_link(&mut h, p, t).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

fn from_tar(bytes: &[u8]) -> BTreeSet<E> {
    let mut a = tar::Archive::new(bytes);
    let mut out = BTreeSet::new();
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let p = e.path().unwrap().display().to_string();
        let p = p.trim_end_matches('/').to_string();
        let item = match e.header().entry_type() {
            tar::EntryType::Directory => E::Dir(p),
            tar::EntryType::Symlink => {
                E::Link(p, e.link_name().unwrap().unwrap().display().to_string())
            }
            tar::EntryType::Regular => {
                let mut c = Vec::new();
                std::io::Read::read_to_end(&mut e, &mut c).unwrap();
                E::File(p, c)
            }
            other => panic!("unexpected entry type {other:?} for {p}"),
        };
        out.insert(item);
    }
    out
}

fn is_whiteout(p: &Path) -> bool {
    let m = std::fs::symlink_metadata(p).unwrap();
    m.file_type().is_char_device() && m.rdev() == 0
}

#[test]
fn oci_to_overlay_to_oci_round_trip() {
    common::require_root();
    let root = TestRoot::new();
    let base = root.path().join("s");
    let layer = base.join("layer");
    let original = crafted();
    unpack_oci_layer(to_tar(&original).as_slice(), &layer).unwrap();

    // overlay form on disk
    for w in ["tmp", "etc/shadow", "usr/lib/deep/gone.so"] {
        assert!(is_whiteout(&layer.join(w)), "{w} is not a 0/0 whiteout");
    }
    assert!(is_overlay_opaque(&layer.join("var/cache")));
    assert!(is_overlay_opaque(&layer.join("opt/a/b")));
    assert!(!is_overlay_opaque(&layer.join("opt/a")));
    assert!(!is_overlay_opaque(&layer.join("usr/lib/deep")));
    let names = tree(&layer);
    assert!(
        !names.iter().any(|n| n.contains(".wh.")),
        "OCI names left on disk: {names:#?}"
    );
    assert_eq!(
        std::fs::read_link(layer.join("link")).unwrap(),
        Path::new("etc/passwd")
    );

    // the kernel reads it the same way: as a lower layer over a base
    let below = base.join("below");
    for (p, c) in [
        ("tmp/x", "x"),
        ("etc/shadow", "secret"),
        ("etc/group", "root"),
        ("usr/lib/deep/gone.so", "gone"),
        ("usr/lib/deep/other.so", "other"),
        ("var/cache/old", "old"),
        ("opt/a/b/old", "old"),
        ("opt/a/sibling", "s"),
    ] {
        put(&below.join(p), c);
    }
    let m = base.join("m");
    dirs(&base, &["m"]);
    let lower = format!("{}:{}", layer.display(), below.display());
    root.ok(&["unionfs", "mount", "--lower", &lower, m.to_str().unwrap()]);
    let exists = |p: &str| m.join(p).exists();
    assert!(!exists("tmp") && !exists("etc/shadow") && !exists("usr/lib/deep/gone.so"));
    assert!(exists("etc/group") && exists("etc/passwd") && exists("usr/lib/deep/other.so"));
    assert!(exists("usr/lib/deep/kept.so") && exists("opt/a/sibling"));
    assert!(!exists("var/cache/old") && exists("var/cache/fresh"));
    assert_eq!(std::fs::read_dir(m.join("opt/a/b")).unwrap().count(), 0);
    root.ok(&["unionfs", "umount", m.to_str().unwrap()]);

    // and back to OCI form
    let entries = overlay_to_oci(&layer).unwrap();
    let pos = |p: &str| entries.iter().position(|e| e.path == Path::new(p)).unwrap();
    assert!(pos("var/cache") < pos("var/cache/.wh..wh..opq"));
    assert!(pos("var/cache/.wh..wh..opq") < pos("var/cache/fresh"));
    assert_eq!(entries[pos("etc/.wh.shadow")].kind, LayerKind::Whiteout);
    let mut tar = Vec::new();
    write_oci_tar(&layer, &mut tar).unwrap();
    let back = from_tar(&tar);
    let want: BTreeSet<E> = original.into_iter().collect();
    assert_eq!(back, want);
}

#[test]
fn unpack_refuses_entries_that_leave_the_layer() {
    common::require_root();
    let root = TestRoot::new();
    let layer = root.path().join("layer");
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_size(0);
    h.set_mode(0o644);
    // tar's own path setter refuses `..`; write the name bytes directly
    h.as_gnu_mut().unwrap().name[..13].copy_from_slice(b"../.wh.passwd");
    h.set_cksum();
    b.append(&h, std::io::empty()).unwrap();
    let bytes = b.into_inner().unwrap();
    let err = unpack_oci_layer(bytes.as_slice(), &layer).unwrap_err();
    let text = format!("{err:#}");
    assert!(text.contains("leaves the layer"), "{text}");
    assert!(!root.path().join("passwd").exists());
}
