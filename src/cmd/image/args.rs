//! The arguments of `glassbox image ...` and of its Docker-style
//! shortcuts (`pull`, `images`, `rmi`, `login`, `logout`): clap
//! definitions only, every argument with its help line.

use std::path::PathBuf;

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
    /// pull or load left; prints the space freed on disk. An image a
    /// container uses, or one being handed to a container that is being
    /// made, stays.
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
    pub input: Option<PathBuf>,
    /// Print nothing
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Clone, clap::Args)]
pub struct SaveArgs {
    /// Images to save (NAME[:TAG] or id); a tag given is kept in the archive
    #[arg(required = true)]
    pub images: Vec<String>,
    /// Write to this file (default: standard output, if not a terminal).
    /// A regular file is replaced atomically; a device, FIFO or terminal
    /// is written in place; a symlink is followed, never replaced
    #[arg(short, long)]
    pub output: Option<PathBuf>,
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
    /// Images to remove (NAME[:TAG] to untag, or an id or id prefix)
    #[arg(required = true)]
    pub images: Vec<String>,
    /// Remove even when tagged in several repositories or used by a container
    #[arg(short, long)]
    pub force: bool,
}

#[derive(Debug, Clone, clap::Args)]
pub struct InspectArgs {
    /// Format output using a Go template ('json' for JSON on one line)
    #[arg(short, long)]
    pub format: Option<String>,
    /// Images to show (NAME[:TAG], NAME@DIGEST, an id or id prefix)
    #[arg(required = true)]
    pub images: Vec<String>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct HistoryArgs {
    /// The image (NAME[:TAG], NAME@DIGEST, an id or id prefix)
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
    /// The image to name (NAME[:TAG], an id or id prefix)
    pub source: String,
    /// Its new name, NAME[:TAG], e.g. 127.0.0.1:5000/app:v1
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

#[derive(Debug, Clone, clap::Args)]
pub struct LoginArgs {
    /// Registry host, e.g. 127.0.0.1:5000 (default: Docker Hub)
    pub server: Option<String>,
    /// User name on the registry
    #[arg(short, long)]
    pub username: String,
    /// Password (visible in the process list: prefer --password-stdin)
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
