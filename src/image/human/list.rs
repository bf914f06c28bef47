//! `image ls` (its table, its JSON lines, its `--tree` of shared
//! layers), `image layers` and `image prune`'s report.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use anyhow::Result;
use serde_json::json;

use super::{Format, ago, config_of, created_at, open, size, table};
use crate::clock::parse_rfc3339;
use crate::image::digest::short;
use crate::image::manage;
use crate::image::reference::Reference;
use crate::image::store::{ImageRecord, Images, Store, now};
use crate::state::Root;
use crate::trace::Done;

/// What `image ls` shows.
#[derive(Debug, Clone, Default)]
pub struct LsOptions {
    /// Only images of this repository (`REPOSITORY[:TAG]`).
    pub reference: Option<String>,
    /// Only the image ids.
    pub quiet: bool,
    pub digests: bool,
    pub no_trunc: bool,
    /// `table` or `json`, checked only when it is used (as Docker does).
    pub format: String,
    /// Each image's layer stack, shared layers marked.
    pub tree: bool,
}

/// One row of `image ls`.
#[derive(Debug, Clone)]
pub struct Row<'a> {
    pub repo: String,
    pub tag: String,
    pub digest: String,
    pub rec: &'a ImageRecord,
    pub created: Option<String>,
}

/// The rows of `image ls`: one per tag (an untagged image once), newest
/// first, then by name.
pub fn rows<'a>(store: &Store, images: &'a Images, filter: Option<&Reference>) -> Vec<Row<'a>> {
    let mut out = Vec::new();
    for rec in images.images.values() {
        // A damaged config must not hide the rest of the list.
        let created = config_of(store, rec).ok().and_then(|c| c.created);
        let tags = images.tags_of(&rec.id);
        let digest_for = |name: &str| {
            rec.repo_digests
                .iter()
                .find_map(|d| {
                    d.split_once('@')
                        .filter(|(n, _)| *n == name)
                        .map(|(_, d)| d.to_string())
                })
                .unwrap_or_else(|| "<none>".into())
        };
        if tags.is_empty() {
            if filter.is_some() {
                continue;
            }
            let (repo, digest) = match rec
                .repo_digests
                .first()
                .and_then(|d| Reference::parse(d).ok())
            {
                Some(r) => (r.familiar_name(), r.digest.unwrap_or_default()),
                None => ("<none>".into(), "<none>".into()),
            };
            out.push(Row {
                repo,
                tag: "<none>".into(),
                digest,
                rec,
                created: created.clone(),
            });
        }
        for t in tags {
            if let Some(f) = filter
                && (f.name() != t.name() || (f.tag.is_some() && f.tag != t.tag))
            {
                continue;
            }
            out.push(Row {
                repo: t.familiar_name(),
                tag: t.tag.clone().unwrap_or_default(),
                digest: digest_for(&t.name()),
                rec,
                created: created.clone(),
            });
        }
    }
    // Newest first, as Docker; then by name for a stable order.
    out.sort_by(|a, b| {
        let ta = a.created.as_deref().and_then(parse_rfc3339);
        let tb = b.created.as_deref().and_then(parse_rfc3339);
        tb.cmp(&ta)
            .then_with(|| a.repo.cmp(&b.repo))
            .then_with(|| a.tag.cmp(&b.tag))
    });
    out
}

/// `image ls`: the text it prints.
pub fn ls(root: &Root, opts: &LsOptions) -> Result<Done<String>> {
    let Done::Ran((store, images)) = open(root)? else {
        return Ok(Done::Planned);
    };
    ls_text(&store, &images, opts, now()).map(Done::Ran)
}

/// `image ls` of `images` at time `now` (Unix seconds).
pub fn ls_text(store: &Store, images: &Images, opts: &LsOptions, now: u64) -> Result<String> {
    if opts.tree {
        return tree(store, images);
    }
    let filter = opts
        .reference
        .as_deref()
        .map(Reference::parse_normalized_named)
        .transpose()?;
    let rows = rows(store, images, filter.as_ref());
    let id_of = |rec: &ImageRecord| {
        if opts.no_trunc {
            rec.id.clone()
        } else {
            short(&rec.id).to_string()
        }
    };
    let mut out = String::new();
    if opts.quiet {
        let mut seen = BTreeSet::new();
        for r in &rows {
            if seen.insert(r.rec.id.clone()) {
                let _ = writeln!(out, "{}", id_of(r.rec));
            }
        }
        return Ok(out);
    }
    match Format::parse(&opts.format)? {
        Format::Json => {
            for r in &rows {
                let v = json!({
                    "Containers": "N/A",
                    "CreatedAt": created_at(r.created.as_deref()),
                    "CreatedSince": ago(r.created.as_deref(), now),
                    "Digest": r.digest,
                    "ID": id_of(r.rec),
                    "Repository": r.repo,
                    "SharedSize": "N/A",
                    "Size": size(r.rec.size),
                    "Tag": r.tag,
                    "UniqueSize": "N/A",
                    "VirtualSize": size(r.rec.size),
                });
                let _ = writeln!(out, "{v}");
            }
        }
        Format::Table => {
            let mut t = vec![];
            let mut head = vec!["REPOSITORY", "TAG"];
            if opts.digests {
                head.push("DIGEST");
            }
            head.extend(["IMAGE ID", "CREATED", "SIZE"]);
            t.push(head.into_iter().map(String::from).collect());
            for r in &rows {
                let mut row = vec![r.repo.clone(), r.tag.clone()];
                if opts.digests {
                    row.push(r.digest.clone());
                }
                row.push(id_of(r.rec));
                row.push(ago(r.created.as_deref(), now));
                row.push(size(r.rec.size));
                t.push(row);
            }
            out.push_str(&table(&t));
        }
    }
    Ok(out)
}

/// `image ls --tree`: each image and its layer stack; shared layers marked.
fn tree(store: &Store, images: &Images) -> Result<String> {
    let usage = manage::layer_usage(store, images)?;
    let users = |chain: &str| {
        usage
            .iter()
            .find(|u| u.chain_id == chain)
            .map(|u| u.images.len())
            .unwrap_or(0)
    };
    let mut out = String::new();
    let mut seen = BTreeSet::new();
    for r in rows(store, images, None) {
        if !seen.insert(r.rec.id.clone()) {
            continue;
        }
        let names: Vec<String> = images
            .tags_of(&r.rec.id)
            .iter()
            .map(|t| t.familiar())
            .collect();
        let _ = writeln!(
            out,
            "{}  {}  {}",
            short(&r.rec.id),
            if names.is_empty() {
                "<none>:<none>".into()
            } else {
                names.join(", ")
            },
            size(r.rec.size)
        );
        let n = r.rec.layers.len();
        for (i, l) in r.rec.layers.iter().enumerate() {
            let branch = if i + 1 == n { "└─" } else { "├─" };
            let bytes = store.layer_meta(&l.chain_id)?.map(|m| m.size).unwrap_or(0);
            let shared = users(&l.chain_id);
            let _ = writeln!(
                out,
                "  {branch} {}  {:>8}{}",
                short(&l.chain_id),
                size(bytes),
                if shared > 1 {
                    format!("  shared by {shared} images")
                } else {
                    String::new()
                }
            );
        }
    }
    Ok(out)
}

/// `image layers`: every stored layer and the images that share it.
pub fn layers(root: &Root, format: &str) -> Result<Done<String>> {
    let Done::Ran((store, images)) = open(root)? else {
        return Ok(Done::Planned);
    };
    let usage = manage::layer_usage(&store, &images)?;
    Ok(Done::Ran(match Format::parse(format)? {
        Format::Json => format!("{}\n", serde_json::to_string_pretty(&usage)?),
        Format::Table => {
            let mut t = vec![vec![
                "LAYER (CHAIN ID)".to_string(),
                "DIFF ID".into(),
                "SIZE".into(),
                "SHARED".into(),
                "IMAGES".into(),
            ]];
            for u in &usage {
                t.push(vec![
                    short(&u.chain_id).to_string(),
                    short(&u.diff_id).to_string(),
                    size(u.size),
                    u.images.len().to_string(),
                    u.images.join(", "),
                ]);
            }
            table(&t)
        }
    }))
}

/// `image prune`'s report: the deleted lines, then the space freed.
pub fn prune_report(lines: &[String], bytes: u64) -> String {
    let mut out = String::new();
    if !lines.is_empty() {
        out.push_str("Deleted Images:\n");
        for l in lines {
            let _ = writeln!(out, "{l}");
        }
        out.push('\n');
    }
    let _ = writeln!(out, "Total reclaimed space: {}", size(bytes));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::human::fixture::one_image;

    /// 2024-09-29T21:31:42Z: three days after the image was made.
    const NOW: u64 = 1_727_645_502;

    #[test]
    fn the_table_has_a_row_per_tag_newest_first() {
        let f = one_image();
        let opts = LsOptions {
            format: "table".into(),
            ..Default::default()
        };
        let text = ls_text(&f.store, &f.images, &opts, NOW).unwrap();
        let id = short(&f.id);
        assert_eq!(
            text,
            format!(
                "REPOSITORY          TAG      IMAGE ID       CREATED      SIZE\n\
                 127.0.0.1:5000/bb   v1       {id}   3 days ago   100kB\n\
                 busybox             latest   {id}   3 days ago   100kB\n"
            )
        );
        let quiet = LsOptions {
            quiet: true,
            no_trunc: true,
            ..opts.clone()
        };
        assert_eq!(
            ls_text(&f.store, &f.images, &quiet, NOW).unwrap(),
            format!("{}\n", f.id)
        );
        let only = LsOptions {
            reference: Some("busybox".into()),
            digests: true,
            ..opts.clone()
        };
        let text = ls_text(&f.store, &f.images, &only, NOW).unwrap();
        assert!(
            text.lines()
                .nth(1)
                .unwrap()
                .starts_with("busybox      latest   <none>   "),
            "{text}"
        );
        assert_eq!(text.lines().count(), 2, "{text}");
    }

    #[test]
    fn json_lines_carry_dockers_fields_and_a_bad_format_is_named() {
        let f = one_image();
        let opts = LsOptions {
            format: "json".into(),
            ..Default::default()
        };
        let text = ls_text(&f.store, &f.images, &opts, NOW).unwrap();
        let v: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(v["Repository"], "127.0.0.1:5000/bb");
        assert_eq!(v["CreatedAt"], "2024-09-26 21:31:42 +0000 UTC");
        assert_eq!(v["CreatedSince"], "3 days ago");
        assert_eq!(v["Size"], "100kB");
        let bad = LsOptions {
            format: "yaml".into(),
            ..Default::default()
        };
        let e = ls_text(&f.store, &f.images, &bad, NOW)
            .unwrap_err()
            .to_string();
        assert_eq!(e, "unknown --format \"yaml\": use table or json");
    }

    #[test]
    fn the_tree_shows_each_layer_once_per_image() {
        let f = one_image();
        let opts = LsOptions {
            tree: true,
            ..Default::default()
        };
        let text = ls_text(&f.store, &f.images, &opts, NOW).unwrap();
        assert_eq!(
            text,
            format!(
                "{}  127.0.0.1:5000/bb:v1, busybox:latest  100kB\n  └─ {}     100kB\n",
                short(&f.id),
                short(&f.chain)
            )
        );
    }

    #[test]
    fn prune_reports_what_it_deleted_and_the_space() {
        assert_eq!(prune_report(&[], 0), "Total reclaimed space: 0B\n");
        assert_eq!(
            prune_report(&["deleted: sha256:ab".into()], 4_261_550),
            "Deleted Images:\ndeleted: sha256:ab\n\nTotal reclaimed space: 4.26MB\n"
        );
    }
}
