//! The arguments of `run` and `create` (Docker's flags); `run_flags.rs`
//! turns them into the library's plain `Request`. Options glassbox does
//! not have are refused with the reason, never ignored.

use std::path::PathBuf;

pub use super::run_flags::request;

#[derive(Debug, Clone, clap::Args)]
#[command(disable_help_flag = true)]
pub struct RunArgs {
    /// Print help (`-h` is --hostname, as in Docker)
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
    /// Run in the background and print the container ID
    #[arg(short, long)]
    pub detach: bool,
    /// Keep STDIN open even if not attached
    #[arg(short, long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY
    #[arg(short, long)]
    pub tty: bool,
    /// Remove the container when it exits
    #[arg(long)]
    pub rm: bool,
    /// Assign a name to the container
    #[arg(long)]
    pub name: Option<String>,
    /// Set environment variables (KEY=VALUE, or KEY to take it from here)
    #[arg(short, long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long, value_name = "FILE")]
    pub env_file: Vec<PathBuf>,
    /// Working directory inside the container
    #[arg(short, long, value_name = "DIR")]
    pub workdir: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>]), looked up in the container
    #[arg(short, long)]
    pub user: Option<String>,
    /// Overwrite the default ENTRYPOINT of the image
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Container host name
    #[arg(short = 'h', long)]
    pub hostname: Option<String>,
    /// Bind mount a volume or a host path: NAME|HOST-PATH:CONTAINER-PATH[:ro|nocopy]
    #[arg(short, long = "volume", value_name = "SRC:CTR[:OPTS]")]
    pub volume: Vec<String>,
    /// Attach a filesystem mount: type=bind|volume|tmpfs,source=...,target=...[,readonly]
    #[arg(long = "mount", value_name = "SPEC")]
    pub mount: Vec<String>,
    /// Mount a tmpfs directory: PATH[:OPTIONS] (default rw,noexec,nosuid,nodev)
    #[arg(long, value_name = "PATH[:OPTS]")]
    pub tmpfs: Vec<String>,
    /// Mount the container's root filesystem as read only
    #[arg(long)]
    pub read_only: bool,
    /// Memory limit (e.g. 200m)
    #[arg(short, long)]
    pub memory: Option<String>,
    /// Memory plus swap limit: -1 for unlimited swap (default: twice --memory)
    #[arg(long, allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// CPU shares (relative weight; 1024 is the default)
    #[arg(short, long, allow_negative_numbers = true)]
    pub cpu_shares: Option<i64>,
    /// Number of CPUs (e.g. 0.5)
    #[arg(long, allow_hyphen_values = true)]
    pub cpus: Option<String>,
    /// CPUs in which to allow execution (0-3, 0,1)
    #[arg(long)]
    pub cpuset_cpus: Option<String>,
    /// Tune the container's pids limit (-1 for unlimited)
    #[arg(long, allow_negative_numbers = true)]
    pub pids_limit: Option<i64>,
    /// Connect the container to a network: bridge, host, none, container:NAME, or a network's name
    #[arg(long, alias = "net", default_value = "bridge")]
    pub network: String,
    /// Add a network-scoped alias for the container (a user-defined network)
    #[arg(long = "network-alias", alias = "net-alias", value_name = "ALIAS")]
    pub network_alias: Vec<String>,
    /// Publish a container's port to the host: [IP:][HOSTPORT:]PORT[/udp]
    #[arg(short, long = "publish", value_name = "SPEC")]
    pub publish: Vec<String>,
    /// Publish all exposed ports to random ports
    #[arg(short = 'P', long)]
    pub publish_all: bool,
    /// Expose a port or a range of ports (PORT[/PROTO], START-END[/PROTO])
    #[arg(long, value_name = "PORT")]
    pub expose: Vec<String>,
    /// IPv4 address (e.g., 172.30.100.104) on a user-defined network
    #[arg(long, value_name = "ADDRESS")]
    pub ip: Option<String>,
    /// Add a custom host-to-IP mapping (NAME:IP)
    #[arg(long)]
    pub add_host: Vec<String>,
    /// Set custom DNS servers
    #[arg(long)]
    pub dns: Vec<String>,
    /// Run an init inside the container that forwards signals and reaps processes
    #[arg(long)]
    pub init: bool,
    /// Set metadata on the container (KEY=VALUE)
    #[arg(short, long = "label", value_name = "KEY=VALUE")]
    pub label: Vec<String>,
    /// Read in a line delimited file of labels
    #[arg(long, value_name = "FILE")]
    pub label_file: Vec<PathBuf>,
    /// Log driver options: max-size=SIZE, max-file=N
    #[arg(long, value_name = "OPT=VALUE")]
    pub log_opt: Vec<String>,
    /// Proxy received signals to the process (attached only)
    // `--sig-proxy` alone is `--sig-proxy=true`, as with Docker's bool flags.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL",
          num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub sig_proxy: bool,
    /// Override the key sequence for detaching a container
    #[arg(long, value_name = "KEYS")]
    pub detach_keys: Option<String>,
    /// Not in glassbox: a restart policy needs a daemon that outlives the container
    #[arg(long, hide = true)]
    pub restart: Option<String>,
    /// Give extended privileges to this container
    #[arg(long)]
    pub privileged: bool,
    /// Add Linux capabilities
    #[arg(long, value_name = "CAP")]
    pub cap_add: Vec<String>,
    /// Drop Linux capabilities
    #[arg(long, value_name = "CAP")]
    pub cap_drop: Vec<String>,
    /// Security options (no-new-privileges, seccomp=unconfined|FILE)
    #[arg(long, value_name = "OPT")]
    pub security_opt: Vec<String>,
    /// Add a host device to the container (HOST[:CONTAINER[:PERMISSIONS]])
    #[arg(long, value_name = "DEVICE")]
    pub device: Vec<String>,
    /// User namespace: remap (the container's root is an unprivileged host uid)
    #[arg(long, value_name = "MODE")]
    pub userns: Option<String>,
    /// The image to run
    pub image: String,
    /// The command and its arguments (default: the image's)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    /// Docker takes `--memory-swap -1` and `--pids-limit -1` as two words;
    /// a value that starts with `-` must not be read as an option.
    #[test]
    fn negative_values_as_separate_words() {
        let cli = crate::cli::Cli::try_parse_from([
            "glassbox",
            "run",
            "--memory",
            "200M",
            "--memory-swap",
            "-1",
            "--pids-limit",
            "-1",
            "busybox",
            "true",
        ])
        .expect("parse");
        let dbg = format!("{:?}", cli.command);
        assert!(dbg.contains("memory_swap: Some(\"-1\")"), "{dbg}");
        assert!(dbg.contains("pids_limit: Some(-1)"), "{dbg}");
        assert!(dbg.contains("command: [\"true\"]"), "{dbg}");
    }
}
