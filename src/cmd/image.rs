//! `glassbox image ...` (and the `pull`, `images`, `rmi` shortcuts):
//! parse, call `crate::image`, print Docker-shaped tables and JSON.

use anyhow::{Context, Result, bail};
use serde_json::json;

use super::Ctx;
use crate::image::digest::short;
use crate::image::human;
use crate::image::manage;
use crate::image::manifest::{ImageConfig, Platform};
use crate::image::pull::{PullOptions, pull};
use crate::image::reference::Reference;
use crate::image::space::{Meter, MeteredWriter, Reserve};
use crate::image::store::{ImageRecord, Images, Store, now};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Download an image from a registry (`docker pull`)
    ///
    /// Writing stops before the state root's filesystem falls below a
    /// reserve of free space (5% of its size, at least 256 MiB but at most
    /// a quarter of it, at most 4 GiB; GLASSBOX_STORE_RESERVE=SIZE sets
    /// another, e.g. 1G, 10%, 0), and what was half stored is removed.
    Pull(PullArgs),
    /// List images (`docker images`)
    #[command(visible_alias = "list")]
    Ls(LsArgs),
    /// Remove images; layers no other image uses are deleted (`docker rmi`)
    #[command(visible_alias = "remove")]
    Rm(RmArgs),
    /// Show an image's details as JSON
    Inspect(InspectArgs),
    /// Show the history of an image
    History(HistoryArgs),
    /// Give an image another name: SOURCE TARGET
    Tag(TagArgs),
    /// Remove unused images
    ///
    /// Also removes layers and blobs no image uses and what a crashed
    /// pull or load left; prints the space freed on disk.
    Prune(PruneArgs),
    /// Show every stored layer and which images share it
    Layers(LayersArgs),
    /// Load images from a `docker save` archive or an OCI layout archive
    ///
    /// Only the archive's regular files are read: a member that is a
    /// symlink out of the archive, a hard link, a FIFO or a device is
    /// refused, and nothing is stored.
    ///
    /// Writing stops before the state root's filesystem falls below a
    /// reserve of free space (5% of its size, at least 256 MiB but at most
    /// a quarter of it, at most 4 GiB; GLASSBOX_STORE_RESERVE=SIZE sets
    /// another, e.g. 1G, 10%, 0), and what was half stored is removed.
    Load(LoadArgs),
    /// Save images to a tar archive (docker save format, also an OCI layout)
    Save(SaveArgs),
    /// Make a one-layer image from a rootfs tarball or directory
    ///
    /// Writing stops before the state root's filesystem falls below a
    /// reserve of free space (5% of its size, at least 256 MiB but at most
    /// a quarter of it, at most 4 GiB; GLASSBOX_STORE_RESERVE=SIZE sets
    /// another, e.g. 1G, 10%, 0), and what was half stored is removed.
    Import(ImportArgs),
    /// Make an image from binaries on this machine and their libraries
    FromHost(FromHostArgs),
}

#[derive(Debug, Clone, clap::Args)]
pub struct LoadArgs {
    /// Read from this tar archive (default: standard input)
    #[arg(short, long)]
    pub input: Option<std::path::PathBuf>,
    /// Print nothing
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Clone, clap::Args)]
pub struct SaveArgs {
    #[arg(required = true)]
    pub images: Vec<String>,
    /// Write to this file (default: standard output, if not a terminal).
    /// A regular file is replaced atomically; a device, FIFO or terminal
    /// is written in place; a symlink is followed, never replaced
    #[arg(short, long)]
    pub output: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct ImportArgs {
    /// A rootfs tarball (plain, gzip or zstd), a directory, or - for stdin
    pub source: String,
    /// Name for the image, e.g. myroot:v1
    pub reference: Option<String>,
    /// Commit message for the image's history
    #[arg(short, long)]
    pub message: Option<String>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct FromHostArgs {
    /// Binaries (names on PATH or paths), e.g. busybox
    #[arg(required = true)]
    pub binaries: Vec<String>,
    /// Name for the image
    #[arg(short, long, default_value = "glassbox/host:latest")]
    pub tag: String,
}

#[derive(Debug, Clone, clap::Args)]
pub struct PullArgs {
    /// NAME[:TAG|@DIGEST], e.g. busybox, 127.0.0.1:5000/app:v1
    pub image: String,
    /// Pick this platform from a multi-platform image (os/arch[/variant])
    #[arg(long)]
    pub platform: Option<String>,
    /// Print only the image reference
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Clone, clap::Args)]
pub struct LsArgs {
    /// Only images of this repository (REPOSITORY[:TAG])
    pub reference: Option<String>,
    /// Only show image ids
    #[arg(short, long)]
    pub quiet: bool,
    /// Show digests
    #[arg(long)]
    pub digests: bool,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// `table` (default) or `json` (one object per line, as Docker)
    #[arg(long, default_value = "table")]
    pub format: String,
    /// Show the layers each image is built from, and which are shared
    #[arg(long)]
    pub tree: bool,
}

#[derive(Debug, Clone, clap::Args)]
pub struct RmArgs {
    #[arg(required = true)]
    pub images: Vec<String>,
    /// Remove even when tagged in several repositories or used by a container
    #[arg(short, long)]
    pub force: bool,
}

#[derive(Debug, Clone, clap::Args)]
pub struct InspectArgs {
    #[arg(required = true)]
    pub images: Vec<String>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct HistoryArgs {
    pub image: String,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Only show image ids
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Clone, clap::Args)]
pub struct TagArgs {
    pub source: String,
    pub target: String,
}

#[derive(Debug, Clone, clap::Args)]
pub struct PruneArgs {
    /// Remove all images not used by a container, not just dangling ones
    #[arg(short, long)]
    pub all: bool,
    /// Do not prompt (glassbox never prompts; accepted for Docker habits)
    #[arg(short, long)]
    pub force: bool,
}

#[derive(Debug, Clone, clap::Args)]
pub struct LayersArgs {
    /// `table` (default) or `json`
    #[arg(long, default_value = "table")]
    pub format: String,
}

pub fn execute(ctx: &Ctx, cmd: &Command) -> Result<()> {
    match cmd {
        Command::Pull(a) => cmd_pull(ctx, a),
        Command::Ls(a) => cmd_ls(ctx, a),
        Command::Rm(a) => cmd_rm(ctx, a),
        Command::Inspect(a) => cmd_inspect(ctx, a),
        Command::History(a) => cmd_history(ctx, a),
        Command::Tag(a) => manage::tag(&ctx.root, &a.source, &a.target),
        Command::Prune(a) => cmd_prune(ctx, a),
        Command::Layers(a) => cmd_layers(ctx, a),
        Command::Load(a) => cmd_load(ctx, a),
        Command::Save(a) => cmd_save(ctx, a),
        Command::Import(a) => cmd_import(ctx, a),
        Command::FromHost(a) => {
            let id = crate::image::import::from_host(&ctx.root, &a.binaries, &a.tag)?;
            println!("{id}");
            Ok(())
        }
    }
}

/// Standard input copied to a temporary file in the store.
fn stdin_to_file(ctx: &Ctx) -> Result<(crate::image::archive::TempDir, std::path::PathBuf)> {
    use std::io::IsTerminal;
    if std::io::stdin().is_terminal() {
        bail!("requested load from stdin, but stdin is empty: use -i FILE or redirect input");
    }
    let store = Store::open(&ctx.root)?;
    let tmp = crate::image::archive::TempDir::new(&store, "stdin")?;
    let p = tmp.0.join("input");
    let f = std::fs::File::create(&p).with_context(|| format!("create {}", p.display()))?;
    let mut w = MeteredWriter {
        inner: f,
        meter: Meter::new(Reserve::for_dir(&store.dir)?),
    };
    let n = std::io::copy(&mut std::io::stdin().lock(), &mut w)
        .with_context(|| format!("copy standard input to {}", p.display()))
        .map_err(|e| store.explain_no_room(e))?;
    if n == 0 {
        bail!("requested load from stdin, but stdin is empty: use -i FILE or redirect input");
    }
    Ok((tmp, p))
}

fn cmd_load(ctx: &Ctx, a: &LoadArgs) -> Result<()> {
    let (_keep, path) = match &a.input {
        Some(p) if p.as_os_str() != "-" => (None, p.clone()),
        _ => {
            let (t, p) = stdin_to_file(ctx)?;
            (Some(t), p)
        }
    };
    let lines = crate::image::archive::load(&ctx.root, &path)?;
    if !a.quiet {
        for l in lines {
            println!("{l}");
        }
    }
    Ok(())
}

fn cmd_save(ctx: &Ctx, a: &SaveArgs) -> Result<()> {
    use crate::image::save::{Dest, save};
    use std::io::IsTerminal;
    match &a.output {
        Some(p) => save(&ctx.root, &a.images, Dest::Path(p)),
        None => {
            if std::io::stdout().is_terminal() {
                bail!("cowardly refusing to save to a terminal. Use the -o flag or redirect");
            }
            save(&ctx.root, &a.images, Dest::Stdout)
        }
    }
}

fn cmd_import(ctx: &Ctx, a: &ImportArgs) -> Result<()> {
    let (_keep, path) = if a.source == "-" {
        let (t, p) = stdin_to_file(ctx)?;
        (Some(t), p)
    } else {
        (None, std::path::PathBuf::from(&a.source))
    };
    let id = crate::image::import::import(
        &ctx.root,
        &path,
        a.reference.as_deref(),
        a.message.as_deref(),
        None,
    )?;
    println!("{id}");
    Ok(())
}

pub fn cmd_pull(ctx: &Ctx, a: &PullArgs) -> Result<()> {
    let r = Reference::parse(&a.image)?;
    let platform = a.platform.as_deref().map(Platform::parse).transpose()?;
    let opts = PullOptions {
        platform,
        quiet: a.quiet,
        progress_to_stderr: false,
    };
    pull(&ctx.root, &r, &opts)?;
    println!("{r}");
    Ok(())
}

fn config_of(store: &Store, rec: &ImageRecord) -> Result<ImageConfig> {
    ImageConfig::parse(&store.read_blob(&rec.id)?)
}

/// One row of `image ls`.
struct Row<'a> {
    repo: String,
    tag: String,
    digest: String,
    rec: &'a ImageRecord,
    created: Option<String>,
}

fn rows<'a>(store: &Store, images: &'a Images, filter: Option<&Reference>) -> Result<Vec<Row<'a>>> {
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
        let ta = a.created.as_deref().and_then(crate::clock::parse_rfc3339);
        let tb = b.created.as_deref().and_then(crate::clock::parse_rfc3339);
        tb.cmp(&ta)
            .then_with(|| a.repo.cmp(&b.repo))
            .then_with(|| a.tag.cmp(&b.tag))
    });
    Ok(out)
}

fn cmd_ls(ctx: &Ctx, a: &LsArgs) -> Result<()> {
    let store = Store::open(&ctx.root)?;
    let images = store.images()?;
    if a.tree {
        return print_tree(&store, &images);
    }
    let filter = a
        .reference
        .as_deref()
        .map(Reference::parse_normalized_named)
        .transpose()?;
    let rows = rows(&store, &images, filter.as_ref())?;
    let id_of = |rec: &ImageRecord| {
        if a.no_trunc {
            rec.id.clone()
        } else {
            short(&rec.id).to_string()
        }
    };
    if a.quiet {
        let mut seen = std::collections::BTreeSet::new();
        for r in &rows {
            if seen.insert(r.rec.id.clone()) {
                println!("{}", id_of(r.rec));
            }
        }
        return Ok(());
    }
    let now = now();
    match a.format.as_str() {
        "json" => {
            for r in &rows {
                let v = json!({
                    "Containers": "N/A",
                    "CreatedAt": human::created_at(r.created.as_deref()),
                    "CreatedSince": human::ago(r.created.as_deref(), now),
                    "Digest": r.digest,
                    "ID": id_of(r.rec),
                    "Repository": r.repo,
                    "SharedSize": "N/A",
                    "Size": human::size(r.rec.size),
                    "Tag": r.tag,
                    "UniqueSize": "N/A",
                    "VirtualSize": human::size(r.rec.size),
                });
                println!("{v}");
            }
        }
        "table" => {
            let mut t = vec![];
            let mut head = vec!["REPOSITORY", "TAG"];
            if a.digests {
                head.push("DIGEST");
            }
            head.extend(["IMAGE ID", "CREATED", "SIZE"]);
            t.push(head.into_iter().map(String::from).collect());
            for r in &rows {
                let mut row = vec![r.repo.clone(), r.tag.clone()];
                if a.digests {
                    row.push(r.digest.clone());
                }
                row.push(id_of(r.rec));
                row.push(human::ago(r.created.as_deref(), now));
                row.push(human::size(r.rec.size));
                t.push(row);
            }
            print!("{}", human::table(&t));
        }
        other => bail!("unknown --format {other:?}: use table or json"),
    }
    Ok(())
}

/// `image ls --tree`: each image and its layer stack; shared layers marked.
fn print_tree(store: &Store, images: &Images) -> Result<()> {
    let usage = manage::layer_usage(store, images)?;
    let users = |chain: &str| {
        usage
            .iter()
            .find(|u| u.chain_id == chain)
            .map(|u| u.images.len())
            .unwrap_or(0)
    };
    let rows = rows(store, images, None)?;
    let mut seen = std::collections::BTreeSet::new();
    for r in rows {
        if !seen.insert(r.rec.id.clone()) {
            continue;
        }
        let names: Vec<String> = images
            .tags_of(&r.rec.id)
            .iter()
            .map(|t| t.familiar())
            .collect();
        println!(
            "{}  {}  {}",
            short(&r.rec.id),
            if names.is_empty() {
                "<none>:<none>".into()
            } else {
                names.join(", ")
            },
            human::size(r.rec.size)
        );
        let n = r.rec.layers.len();
        for (i, l) in r.rec.layers.iter().enumerate() {
            let branch = if i + 1 == n { "└─" } else { "├─" };
            let size = store.layer_meta(&l.chain_id)?.map(|m| m.size).unwrap_or(0);
            let shared = users(&l.chain_id);
            println!(
                "  {branch} {}  {:>8}{}",
                short(&l.chain_id),
                human::size(size),
                if shared > 1 {
                    format!("  shared by {shared} images")
                } else {
                    String::new()
                }
            );
        }
    }
    Ok(())
}

fn cmd_layers(ctx: &Ctx, a: &LayersArgs) -> Result<()> {
    let store = Store::open(&ctx.root)?;
    let images = store.images()?;
    let usage = manage::layer_usage(&store, &images)?;
    match a.format.as_str() {
        "json" => println!("{}", serde_json::to_string_pretty(&usage)?),
        "table" => {
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
                    human::size(u.size),
                    u.images.len().to_string(),
                    u.images.join(", "),
                ]);
            }
            print!("{}", human::table(&t));
        }
        other => bail!("unknown --format {other:?}: use table or json"),
    }
    Ok(())
}

fn cmd_rm(ctx: &Ctx, a: &RmArgs) -> Result<()> {
    for line in manage::remove(&ctx.root, &a.images, a.force)? {
        println!("{line}");
    }
    Ok(())
}

fn cmd_prune(ctx: &Ctx, a: &PruneArgs) -> Result<()> {
    let (lines, bytes) = manage::prune(&ctx.root, a.all)?;
    if !lines.is_empty() {
        println!("Deleted Images:");
        for l in lines {
            println!("{l}");
        }
        println!();
    }
    println!("Total reclaimed space: {}", human::size(bytes));
    Ok(())
}

/// Docker's `image inspect` object for one image.
pub fn inspect_json(store: &Store, images: &Images, rec: &ImageRecord) -> Result<Inspect> {
    let cfg = config_of(store, rec)?;
    let tags: Vec<String> = images
        .tags_of(&rec.id)
        .iter()
        .map(|t| t.familiar())
        .collect();
    let digests: Vec<String> = rec
        .repo_digests
        .iter()
        .filter_map(|d| Reference::parse(d).ok())
        .map(|r| r.familiar())
        .collect();
    let lowers = manage::lower_dirs(store, rec);
    let (upper, lower) = lowers
        .split_first()
        .map_or((None, vec![]), |(u, l)| (Some(u), l.to_vec()));
    let join = |v: &[std::path::PathBuf]| {
        v.iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(":")
    };
    let mut graph = serde_json::Map::new();
    if !lower.is_empty() {
        graph.insert("LowerDir".into(), json!(join(&lower)));
    }
    if let Some(u) = upper {
        graph.insert("UpperDir".into(), json!(u.display().to_string()));
    }
    Ok(Inspect {
        id: rec.id.clone(),
        repo_tags: tags,
        repo_digests: digests,
        parent: String::new(),
        comment: cfg
            .history
            .last()
            .and_then(|h| h.comment.clone())
            .unwrap_or_default(),
        created: cfg.created.clone().unwrap_or_default(),
        docker_version: String::new(),
        author: cfg.author.clone().unwrap_or_default(),
        config: cfg.config,
        architecture: cfg.architecture,
        variant: cfg.variant,
        os: cfg.os,
        size: rec.size,
        graph_driver: json!({ "Data": graph, "Name": "overlay2" }),
        root_fs: json!({ "Type": "layers", "Layers": cfg.rootfs.diff_ids }),
        metadata: json!({ "LastTagTime": crate::clock::rfc3339(rec.added as i64) }),
        descriptor: json!({
            "mediaType": rec.manifest_media_type,
            "digest": rec.manifest_digest,
            "size": store.blob_path(&rec.manifest_digest).metadata().map(|m| m.len()).unwrap_or(0),
        }),
    })
}

/// `image inspect`'s object, fields in Docker's order.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Inspect {
    pub id: String,
    pub repo_tags: Vec<String>,
    pub repo_digests: Vec<String>,
    pub parent: String,
    pub comment: String,
    pub created: String,
    pub docker_version: String,
    pub author: String,
    pub config: serde_json::Value,
    pub architecture: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    pub os: String,
    pub size: u64,
    pub graph_driver: serde_json::Value,
    #[serde(rename = "RootFS")]
    pub root_fs: serde_json::Value,
    pub metadata: serde_json::Value,
    pub descriptor: serde_json::Value,
}

fn cmd_inspect(ctx: &Ctx, a: &InspectArgs) -> Result<()> {
    let store = Store::open(&ctx.root)?;
    let images = store.images()?;
    let mut out = Vec::new();
    let mut missing = Vec::new();
    for w in &a.images {
        match images.resolve(w) {
            Ok(id) => out.push(inspect_json(&store, &images, &images.images[&id])?),
            Err(e) => missing.push(format!("{e:#}")),
        }
    }
    println!("{}", serde_json::to_string_pretty(&out)?);
    if !missing.is_empty() {
        bail!("{}", missing.join("\n"));
    }
    Ok(())
}

fn cmd_history(ctx: &Ctx, a: &HistoryArgs) -> Result<()> {
    let store = Store::open(&ctx.root)?;
    let images = store.images()?;
    let id = images.resolve(&a.image)?;
    let rec = &images.images[&id];
    let cfg = config_of(&store, rec)?;
    let now = now();
    // Pair each non-empty history entry with its layer, bottom first.
    let mut layer_sizes = rec.layers.iter().map(|l| {
        store
            .layer_meta(&l.chain_id)
            .ok()
            .flatten()
            .map(|m| m.size)
            .unwrap_or(0)
    });
    let mut rows = Vec::new();
    // A config without history: one row per layer, as Docker shows it.
    let blank: Vec<crate::image::manifest::History> = if cfg.history.is_empty() {
        vec![Default::default(); rec.layers.len()]
    } else {
        Vec::new()
    };
    for h in cfg.history.iter().chain(blank.iter()) {
        let size = if h.empty_layer {
            0
        } else {
            layer_sizes.next().unwrap_or(0)
        };
        rows.push((h, size));
    }
    rows.reverse();
    if a.quiet {
        println!(
            "{}",
            if a.no_trunc {
                id.clone()
            } else {
                short(&id).to_string()
            }
        );
        return Ok(());
    }
    let mut t = vec![vec![
        "IMAGE".to_string(),
        "CREATED".into(),
        "CREATED BY".into(),
        "SIZE".into(),
        "COMMENT".into(),
    ]];
    for (i, (h, size)) in rows.into_iter().enumerate() {
        let image = if i == 0 {
            if a.no_trunc {
                id.clone()
            } else {
                short(&id).to_string()
            }
        } else {
            "<missing>".to_string()
        };
        let mut by = h.created_by.clone().unwrap_or_default().replace('\t', " ");
        if !a.no_trunc && by.chars().count() > 45 {
            by = by.chars().take(44).collect::<String>() + "…";
        }
        t.push(vec![
            image,
            human::ago(h.created.as_deref(), now),
            by,
            human::size(size),
            h.comment.clone().unwrap_or_default(),
        ]);
    }
    print!("{}", human::table(&t));
    Ok(())
}

#[derive(Debug, Clone, clap::Args)]
pub struct LoginArgs {
    /// Registry host, e.g. 127.0.0.1:5000 (default: Docker Hub)
    pub server: Option<String>,
    #[arg(short, long)]
    pub username: String,
    #[arg(short, long)]
    pub password: Option<String>,
    /// Read the password from standard input
    #[arg(long)]
    pub password_stdin: bool,
}

#[derive(Debug, Clone, clap::Args)]
pub struct LogoutArgs {
    /// Registry host (default: Docker Hub)
    pub server: Option<String>,
}

fn server_reference(server: Option<&str>) -> Result<Reference> {
    let domain = server
        .unwrap_or(crate::image::reference::DEFAULT_DOMAIN)
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/');
    let domain = if domain == "index.docker.io/v1" || domain == "index.docker.io" {
        crate::image::reference::DEFAULT_DOMAIN
    } else {
        domain
    };
    let probe = Reference::parse(&format!("{domain}/probe"))?;
    Ok(Reference {
        path: String::new(),
        ..probe
    })
}

/// `glassbox login`: check the credentials against the registry, store them.
pub fn login(ctx: &Ctx, a: &LoginArgs) -> Result<()> {
    let password = match (&a.password, a.password_stdin) {
        (Some(p), false) => p.clone(),
        (None, true) => {
            let mut s = String::new();
            std::io::stdin().read_line(&mut s)?;
            s.trim_end_matches(['\n', '\r']).to_string()
        }
        (Some(_), true) => bail!("--password and --password-stdin are mutually exclusive"),
        (None, false) => bail!("give a password with --password-stdin (or -p)"),
    };
    let r = server_reference(a.server.as_deref())?;
    let reg = crate::image::registry::Registry::with_credentials(
        &ctx.root,
        &r,
        Some((a.username.clone(), password.clone())),
    )?;
    reg.ping()?;
    let path =
        crate::image::registry::save_credentials(&ctx.root, &r.domain, &a.username, &password)?;
    crate::trace::say(
        crate::trace::Mechanism::Image,
        format!("credentials stored in {}", path.display()),
    );
    println!("Login Succeeded");
    Ok(())
}

pub fn logout(ctx: &Ctx, a: &LogoutArgs) -> Result<()> {
    let r = server_reference(a.server.as_deref())?;
    if crate::image::registry::remove_credentials(&ctx.root, &r.domain)? {
        println!("Removing login credentials for {}", r.domain);
    } else {
        println!("Not logged in to {}", r.domain);
    }
    Ok(())
}
