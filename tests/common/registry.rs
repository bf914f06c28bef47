//! A real registry for tests: Debian's `docker-registry` (distribution 2.8)
//! on a free 127.0.0.1 port with its own storage dir, filled with the
//! fixtures by `skopeo`, killed when dropped.
//!
//! Own the `Registry` in the test that uses it (not in a `static`: statics
//! are never dropped, and the registry gets SIGKILL when the thread that
//! started it ends).

use std::fs::File;
use std::io::Read;
use std::net::{SocketAddr, TcpListener};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use super::fixtures;

pub mod token;
use token::TokenServer;

/// The media types a client accepts for `GET /v2/NAME/manifests/REF`:
/// OCI and Docker manifests and indexes.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
     application/vnd.oci.image.manifest.v1+json, \
     application/vnd.docker.distribution.manifest.list.v2+json, \
     application/vnd.docker.distribution.manifest.v2+json";

/// How long the registry may take to answer `/v2/`.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// An HTTP agent for tests: no proxy from the environment (tests talk to
/// loopback only), HTTP errors returned as responses, 30 s timeout.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .proxy(None)
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .new_agent()
}

/// `skopeo copy` of fixture `name` to `docker://{dest}` over plain HTTP,
/// without a signature policy, with `extra` options (credentials,
/// compression) before the source; skopeo's stderr if it fails.
pub fn skopeo_copy(name: &str, dest: &str, extra: &[&str]) -> Result<(), String> {
    let out = Command::new("skopeo")
        .args([
            "--insecure-policy",
            "copy",
            "--quiet",
            "--dest-tls-verify=false",
        ])
        .args(extra)
        .arg(fixtures::oci_ref(name))
        .arg(format!("docker://{dest}"))
        .output()
        .unwrap_or_else(|e| panic!("spawn skopeo (apt-get install -y skopeo): {e}"));
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// How to configure the registry before starting it.
#[derive(Debug, Clone)]
pub struct RegistryConfig {
    /// distribution's log level (`error`, `warn`, `info`, `debug`).
    pub log_level: String,
    /// Demand bearer tokens from a token server (see [`token`]).
    pub token_auth: bool,
    /// Extra top-level YAML appended verbatim to config.yml (e.g. a
    /// `notifications:` section).
    pub extra_yaml: String,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        RegistryConfig {
            log_level: "warn".to_string(),
            token_auth: false,
            extra_yaml: String::new(),
        }
    }
}

impl RegistryConfig {
    pub fn log_level(mut self, level: &str) -> Self {
        self.log_level = level.to_string();
        self
    }

    /// Token authentication as Docker Hub does it: 401 and a
    /// `WWW-Authenticate: Bearer realm=...` challenge until the client
    /// brings a token from the realm.
    pub fn token_auth(mut self) -> Self {
        self.token_auth = true;
        self
    }

    pub fn extra_yaml(mut self, yaml: &str) -> Self {
        self.extra_yaml = yaml.to_string();
        self
    }

    /// config.yml for a registry on `addr` storing under `storage`; every
    /// response carries `X-Glassbox-Registry: marker`, so the readiness
    /// check knows it talks to this registry and no other.
    pub fn render(&self, addr: SocketAddr, storage: &Path, marker: &str, auth: &str) -> String {
        format!(
            "version: 0.1\n\
             log:\n  level: {level}\n  accesslog:\n    disabled: true\n\
             storage:\n  filesystem:\n    rootdirectory: {storage}\n  delete:\n    enabled: true\n\
             http:\n  addr: {addr}\n  secret: glassbox-test-{marker}\n  \
             headers:\n    X-Glassbox-Registry: [\"{marker}\"]\n\
             {auth}{extra}",
            level = self.log_level,
            storage = storage.display(),
            extra = self.extra_yaml,
        )
    }

    /// Start a registry with this configuration.
    pub fn start(self) -> Registry {
        Registry::start_with(self)
    }
}

/// A running `docker-registry serve`.
pub struct Registry {
    child: Child,
    addr: SocketAddr,
    token: Option<TokenServer>,
    dir: tempfile::TempDir,
}

impl Registry {
    /// Start a registry with the default configuration (no auth).
    pub fn start() -> Registry {
        Registry::start_with(RegistryConfig::default())
    }

    /// Start a registry and push every fixture into it.
    pub fn with_fixtures() -> Registry {
        let registry = Registry::start();
        registry.push_fixtures();
        registry
    }

    /// A configuration to adjust before `.start()`.
    pub fn builder() -> RegistryConfig {
        RegistryConfig::default()
    }

    fn start_with(config: RegistryConfig) -> Registry {
        let dir = tempfile::Builder::new()
            .prefix("gbregistry-")
            .tempdir()
            .expect("create the registry's temporary dir");
        let storage = dir.path().join("storage");
        std::fs::create_dir(&storage).expect("create the registry's storage dir");
        let token = config.token_auth.then(|| TokenServer::start(dir.path()));
        let auth = token.as_ref().map(|t| t.config_yaml()).unwrap_or_default();
        // The free port may be taken between our probe and the registry's
        // bind (tests run in parallel): try a few.
        let mut last_error = String::new();
        for attempt in 0..5 {
            let addr = free_port();
            // Unique per registry start on this machine.
            static STARTS: AtomicU32 = AtomicU32::new(0);
            let n = STARTS.fetch_add(1, Ordering::Relaxed);
            let marker = format!("{}-{n}-{}", std::process::id(), addr.port());
            let config_path = dir.path().join("config.yml");
            std::fs::write(&config_path, config.render(addr, &storage, &marker, &auth))
                .expect("write the registry's config.yml");
            let log_path = dir.path().join(format!("registry-{attempt}.log"));
            let mut child = spawn(&config_path, &log_path);
            match wait_ready(&mut child, addr, &marker) {
                Ok(()) => {
                    return Registry {
                        child,
                        addr,
                        token,
                        dir,
                    };
                }
                Err(e) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    last_error =
                        format!("{e}\n--- {}\n{}", log_path.display(), read_log(&log_path));
                }
            }
        }
        panic!("docker-registry did not start: {last_error}");
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The registry's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The registry's temporary dir: config.yml, logs, `storage/`.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The token server, when started with `token_auth()`.
    pub fn token_server(&self) -> Option<&TokenServer> {
        self.token.as_ref()
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// `127.0.0.1:PORT/NAME:latest`, an image reference into this registry.
    pub fn reference(&self, name: &str) -> String {
        format!("{}/{name}:latest", self.addr)
    }

    /// The registry's log so far (for assertion messages).
    pub fn log(&self) -> String {
        let mut all = String::new();
        let mut logs: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
            .unwrap_or_default();
        logs.retain(|p| p.extension().is_some_and(|x| x == "log"));
        logs.sort();
        for path in logs {
            all.push_str(&read_log(&path));
        }
        all
    }

    /// Push every fixture as `NAME:latest` with skopeo, keeping the OCI
    /// layouts' digests (`multiarch` with all its platforms).
    pub fn push_fixtures(&self) {
        self.push(&fixtures::ALL);
    }

    /// Push some fixtures (by name) as `NAME:latest`, in parallel.
    pub fn push(&self, names: &[&str]) {
        let copies: Vec<(String, std::process::Child, PathBuf)> = names
            .iter()
            .map(|name| {
                let log = self.dir.path().join(format!("skopeo-{name}.out"));
                let out = File::create(&log).expect("create skopeo's output file");
                let err = out.try_clone().expect("dup skopeo's output file");
                let mut cmd = Command::new("skopeo");
                // No signature policy applies to a test registry.
                cmd.args(["--insecure-policy", "copy", "--quiet"])
                    .args(["--dest-tls-verify=false", "--preserve-digests"]);
                if fixtures::media_type(name) == "application/vnd.oci.image.index.v1+json" {
                    cmd.arg("--all");
                }
                cmd.arg(fixtures::oci_ref(name))
                    .arg(format!("docker://{}", self.reference(name)))
                    .stdin(Stdio::null())
                    .stdout(out)
                    .stderr(err);
                let child = cmd
                    .spawn()
                    .unwrap_or_else(|e| panic!("spawn skopeo (apt-get install -y skopeo): {e}"));
                (name.to_string(), child, log)
            })
            .collect();
        for (name, mut child, log) in copies {
            let status = child.wait().expect("wait for skopeo");
            assert!(
                status.success(),
                "skopeo copy {name} to {} failed with {status}:\n{}\n--- registry log\n{}",
                self.addr,
                read_log(&log),
                self.log()
            );
        }
    }

    /// Push fixture `name` as `AS_NAME:latest` with `extra` skopeo options
    /// (`--dest-creds`, `--dest-compress-format`, ...); panics with
    /// skopeo's error and the registry's log if it fails.
    pub fn push_as(&self, name: &str, as_name: &str, extra: &[&str]) {
        if let Err(e) = skopeo_copy(name, &self.reference(as_name), extra) {
            panic!(
                "skopeo copy {name} to {}: {e}\n--- registry log\n{}",
                self.reference(as_name),
                self.log()
            );
        }
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Poll `/v2/` until this registry (not another one on the same port)
/// answers, or it exits, or the timeout passes.
fn wait_ready(child: &mut Child, addr: SocketAddr, marker: &str) -> Result<(), String> {
    let agent = ureq::Agent::config_builder()
        .proxy(None)
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(2)))
        .build()
        .new_agent();
    let url = format!("http://{addr}/v2/");
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            return Err(format!("docker-registry exited with {status}"));
        }
        if let Ok(resp) = agent.get(&url).call() {
            let ours = resp
                .headers()
                .get("x-glassbox-registry")
                .and_then(|v| v.to_str().ok())
                == Some(marker);
            if !ours {
                return Err(format!("another server answers on {addr}"));
            }
            return Ok(());
        }
        if start.elapsed() > START_TIMEOUT {
            return Err(format!("no answer on {url} after {START_TIMEOUT:?}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A port on 127.0.0.1 that was free a moment ago.
fn free_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener
        .local_addr()
        .expect("local address of a bound socket")
}

fn spawn(config: &Path, log: &Path) -> Child {
    let out = File::create(log).expect("create the registry's log");
    let err = out.try_clone().expect("dup the registry's log");
    let mut cmd = Command::new("docker-registry");
    cmd.arg("serve")
        .arg(config)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err);
    // SAFETY: prctl(PR_SET_PDEATHSIG) is async-signal-safe and touches no
    // memory of the parent; it makes the kernel kill the registry if the
    // test dies without running Drop (e.g. SIGKILL on timeout).
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd.spawn().unwrap_or_else(|e| {
        panic!("spawn docker-registry (apt-get install -y docker-registry): {e}")
    })
}

fn read_log(path: &Path) -> String {
    let mut text = String::new();
    if let Ok(mut f) = File::open(path) {
        let _ = f.read_to_string(&mut text);
    }
    text
}
