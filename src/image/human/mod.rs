//! What the image commands print, the way the Docker CLI prints it: the
//! `image ls` table (and its JSON lines, and the `--tree` of shared
//! layers), `image inspect`'s objects, `image history`, `image layers`;
//! numbers and times as `github.com/docker/go-units` writes them
//! (`HumanSizeWithPrecision(n, 3)`, `HumanDuration`). RFC 3339 times come
//! from [`crate::clock`]. Everything here returns text or values; the
//! commands print it.

mod inspect;
mod list;

use anyhow::{Result, bail};

pub use inspect::{
    HistoryOptions, Inspect, Inspected, history, history_text, inspect, inspect_json,
};
pub use list::{LsOptions, Row, layers, ls, ls_text, prune_report, rows};

use super::manifest::ImageConfig;
use super::store::{ImageRecord, Images, Store};
use crate::clock::{parse_rfc3339, rfc3339};
use crate::state::Root;
use crate::trace::Done;

/// `--format table` (the default) or `json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
}

impl Format {
    pub fn parse(s: &str) -> Result<Format> {
        match s {
            "table" => Ok(Format::Table),
            "json" => Ok(Format::Json),
            other => bail!("unknown --format {other:?}: use table or json"),
        }
    }
}

/// The store of `root` and its images, or `Done::Planned` when a plan may
/// not read them (see [`Store::read_images`]).
pub(super) fn open(root: &Root) -> Result<Done<(Store, Images)>> {
    let store = Store::open(root)?;
    Ok(match store.read_images()? {
        Done::Ran(images) => Done::Ran((store, images)),
        Done::Planned => Done::Planned,
    })
}

pub(super) fn config_of(store: &Store, rec: &ImageRecord) -> Result<ImageConfig> {
    ImageConfig::parse(&store.read_blob(&rec.id)?)
}

/// `4.26MB`, `712kB`, `0B` (decimal units, three significant digits).
pub fn size(n: u64) -> String {
    const UNITS: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1000.0 && i < UNITS.len() - 1 {
        v /= 1000.0;
        i += 1;
    }
    format!("{}{}", sig3(v), UNITS[i])
}

/// Go's `%.3g` for 0 <= v < 1000.
fn sig3(v: f64) -> String {
    let decimals = if v >= 100.0 {
        0
    } else if v >= 10.0 {
        1
    } else {
        2
    };
    let s = format!("{v:.decimals$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    // Rounding can carry into a fourth digit (999.6 -> "1000").
    if s.len() > 3 && !s.contains('.') && v >= 999.5 {
        return "1e+03".to_string();
    }
    s
}

/// Docker's `HumanDuration`: `Less than a second`, `About a minute`,
/// `3 hours`, `2 weeks`, `5 months`, `3 years`.
pub fn duration(secs: u64) -> String {
    let minutes = (secs as f64 / 60.0).round() as u64;
    let hours = (secs as f64 / 3600.0).round() as u64;
    if secs < 1 {
        "Less than a second".into()
    } else if secs == 1 {
        "1 second".into()
    } else if secs < 60 {
        format!("{secs} seconds")
    } else if minutes == 1 {
        "About a minute".into()
    } else if minutes < 60 {
        format!("{minutes} minutes")
    } else if hours == 1 {
        "About an hour".into()
    } else if hours < 48 {
        format!("{hours} hours")
    } else if hours < 24 * 7 * 2 {
        format!("{} days", hours / 24)
    } else if hours < 24 * 30 * 2 {
        format!("{} weeks", hours / 24 / 7)
    } else if hours < 24 * 365 * 2 {
        format!("{} months", hours / 24 / 30)
    } else {
        format!("{} years", hours / 24 / 365)
    }
}

/// `N ago` from an RFC 3339 time, or `N/A`.
pub fn ago(rfc3339: Option<&str>, now: u64) -> String {
    match rfc3339.and_then(parse_rfc3339) {
        Some(t) => format!("{} ago", duration(now.saturating_sub(t.max(0) as u64))),
        None => "N/A".into(),
    }
}

/// Docker's `CreatedAt`: `2024-09-26 21:31:42 +0000 UTC`.
pub fn created_at(rfc: Option<&str>) -> String {
    match rfc.and_then(parse_rfc3339) {
        Some(t) => {
            let s = rfc3339(t);
            format!("{} {} +0000 UTC", &s[..10], &s[11..19])
        }
        None => String::new(),
    }
}

/// Columns separated by three spaces, as Docker's tabwriter does.
pub fn table(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0; cols];
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let mut out = String::new();
    for r in rows {
        let mut line = String::new();
        for (i, c) in r.iter().enumerate() {
            if i + 1 == r.len() {
                line.push_str(c);
            } else {
                line.push_str(c);
                line.push_str(&" ".repeat(widths[i] - c.chars().count() + 3));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_match_docker() {
        assert_eq!(size(0), "0B");
        assert_eq!(size(999), "999B");
        assert_eq!(size(1000), "1kB");
        assert_eq!(size(4_261_550), "4.26MB");
        assert_eq!(size(77_800_000), "77.8MB");
        assert_eq!(size(123_456_789), "123MB");
        assert_eq!(size(1_500_000_000), "1.5GB");
    }

    #[test]
    fn docker_times() {
        assert_eq!(
            created_at(Some("2024-09-26T21:31:42Z")),
            "2024-09-26 21:31:42 +0000 UTC"
        );
        assert_eq!(ago(Some("1970-01-01T00:00:00Z"), 3 * 86400), "3 days ago");
    }

    #[test]
    fn durations_match_docker() {
        assert_eq!(duration(0), "Less than a second");
        assert_eq!(duration(1), "1 second");
        assert_eq!(duration(45), "45 seconds");
        assert_eq!(duration(70), "About a minute");
        assert_eq!(duration(600), "10 minutes");
        assert_eq!(duration(3600), "About an hour");
        assert_eq!(duration(5 * 3600), "5 hours");
        assert_eq!(duration(3 * 86400), "3 days");
        assert_eq!(duration(20 * 86400), "2 weeks");
        assert_eq!(duration(90 * 86400), "3 months");
        assert_eq!(duration(3 * 365 * 86400), "3 years");
    }

    #[test]
    fn tables_align_with_three_spaces() {
        let t = table(&[
            vec!["REPOSITORY".into(), "TAG".into()],
            vec!["busybox".into(), "latest".into()],
        ]);
        assert_eq!(t, "REPOSITORY   TAG\nbusybox      latest\n");
    }
}

/// A store with one image for the tests of this module: one layer of
/// 100 000 bytes, a config with two history entries (one empty), tagged
/// `busybox:latest` and `127.0.0.1:5000/bb:v1`.
#[cfg(test)]
pub(crate) mod fixture {
    use crate::image::digest::{sha256_of, short};
    use crate::image::store::{Added, ImageRecord, Images, LayerRecord, Store};
    use crate::image::unpack::tests::TarBuilder;
    use crate::state::Root;

    pub struct Fixture {
        pub _dir: tempfile::TempDir,
        pub store: Store,
        pub images: Images,
        pub id: String,
        pub chain: String,
    }

    pub fn one_image() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::new(Some(dir.path())).unwrap();
        let store = Store::open(&root).unwrap();
        let tar = TarBuilder::new().file("f", &[7u8; 100_000], 0o644).build();
        let chain = sha256_of(&tar);
        store.unpack_layer(&chain, &chain, || Ok(&tar[..])).unwrap();
        let config = serde_json::json!({
            "architecture": "amd64", "os": "linux",
            "created": "2024-09-26T21:31:42Z",
            "author": "someone",
            "config": {"Cmd": ["sh"]},
            "rootfs": {"type": "layers", "diff_ids": [chain]},
            "history": [
                {"created": "2024-09-26T21:31:41Z", "created_by": "ADD\tfile:0123456789abcdef0123456789abcdef0123456789 in /"},
                {"created": "2024-09-26T21:31:42Z", "created_by": "CMD [\"sh\"]", "empty_layer": true, "comment": "last"}
            ],
        });
        let bytes = serde_json::to_vec(&config).unwrap();
        let id = store.put_blob(&bytes, None, &Added::default()).unwrap();
        let manifest = store.put_blob(b"{}", None, &Added::default()).unwrap();
        let mut images = Images::default();
        let mut rec = ImageRecord::new(
            &id,
            &manifest,
            "application/vnd.oci.image.manifest.v1+json".into(),
            vec![LayerRecord {
                digest: chain.clone(),
                media_type: "application/vnd.oci.image.layer.v1.tar".into(),
                size: tar.len() as u64,
                diff_id: chain.clone(),
                chain_id: chain.clone(),
            }],
            100_000,
        );
        rec.added = 1_727_386_302;
        rec.repo_digests = vec![format!("127.0.0.1:5000/bb@{manifest}")];
        images.images.insert(id.clone(), rec);
        for t in ["docker.io/library/busybox:latest", "127.0.0.1:5000/bb:v1"] {
            images.tags.insert(t.into(), id.clone());
        }
        assert_eq!(short(&id).len(), 12);
        Fixture {
            _dir: dir,
            store,
            images,
            id,
            chain,
        }
    }
}
