//! Token auth as Docker Hub does it: the registry runs in its own
//! `auth: token` mode (it answers `401` with a `WWW-Authenticate: Bearer
//! realm=...` challenge and verifies the tokens' signatures), and a small
//! token issuer here signs JWTs (RS256, `openssl dgst -sign`) with a key
//! whose certificate the registry trusts. alice may pull `busybox` only.
//! Needs root (the store keeps file owners).

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::fixtures::{BUSYBOX, LAYERED};
use common::registry::Registry;
use common::{TestRoot, require_root};

const SERVICE: &str = "glassbox-test-registry";
const ISSUER: &str = "glassbox-test-issuer";

fn b64(data: &[u8], url: bool) -> String {
    let s = glassbox::image::registry::base64_encode(data);
    if url {
        s.trim_end_matches('=').replace('+', "-").replace('/', "_")
    } else {
        s
    }
}

/// A key and self-signed certificate made with openssl.
struct Keys {
    dir: tempfile::TempDir,
}

impl Keys {
    fn new() -> Keys {
        let dir = tempfile::tempdir().unwrap();
        let st = Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            ])
            .args(["-subj", "/CN=glassbox-test-issuer"])
            .arg("-keyout")
            .arg(dir.path().join("key.pem"))
            .arg("-out")
            .arg(dir.path().join("cert.pem"))
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(st.success(), "openssl req");
        Keys { dir }
    }
    fn cert(&self) -> PathBuf {
        self.dir.path().join("cert.pem")
    }
    fn cert_der_b64(&self) -> String {
        let out = Command::new("openssl")
            .args(["x509", "-outform", "DER", "-in"])
            .arg(self.cert())
            .output()
            .unwrap();
        b64(&out.stdout, false)
    }
    fn sign(&self, data: &[u8]) -> Vec<u8> {
        let mut child = Command::new("openssl")
            .args(["dgst", "-sha256", "-sign"])
            .arg(self.dir.path().join("key.pem"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(data).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        out.stdout
    }
}

/// Users, passwords and the repositories each may pull (`*`: all, push too).
fn grants(user: Option<&str>, pass: &str, repo: &str, actions: &[&str]) -> Vec<String> {
    match (user, pass) {
        (Some("pusher"), "push") => actions.iter().map(|a| a.to_string()).collect(),
        (Some("alice"), "secret") if repo == "busybox" => vec!["pull".into()],
        _ => vec![],
    }
}

/// The token issuer: `GET /token?service=..&scope=repository:NAME:ACTIONS`.
struct Issuer {
    addr: std::net::SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Issuer {
    fn start(keys: Arc<Keys>) -> Issuer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let s2 = stop.clone();
        let x5c = keys.cert_der_b64();
        let thread = std::thread::spawn(move || {
            while !s2.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        conn.set_nonblocking(false).unwrap();
                        serve(conn, &keys, &x5c);
                    }
                    Err(_) => std::thread::sleep(std::time::Duration::from_millis(10)),
                }
            }
        });
        Issuer {
            addr,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Issuer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(conn: std::net::TcpStream, keys: &Keys, x5c: &str) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut request = String::new();
    reader.read_line(&mut request).unwrap();
    let mut auth = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':')
            && k.eq_ignore_ascii_case("authorization")
        {
            auth = v.trim().strip_prefix("Basic ").map(|b| {
                let raw = glassbox::image::registry::base64_decode(b).unwrap();
                String::from_utf8(raw).unwrap()
            });
        }
    }
    let (user, pass) = match &auth {
        Some(a) => {
            let (u, p) = a.split_once(':').unwrap();
            (Some(u.to_string()), p.to_string())
        }
        None => (None, String::new()),
    };
    let query = request
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.split_once('?'))
        .map(|(_, q)| q.to_string())
        .unwrap_or_default();
    let mut access = Vec::new();
    for kv in query.split('&') {
        if let Some(scope) = kv.strip_prefix("scope=") {
            let scope = scope
                .replace("%3A", ":")
                .replace("%2F", "/")
                .replace("%2C", ",");
            let parts: Vec<&str> = scope.split(':').collect();
            if parts.len() == 3 && parts[0] == "repository" {
                let actions: Vec<&str> = parts[2].split(',').collect();
                let granted = grants(user.as_deref(), &pass, parts[1], &actions);
                access.push(serde_json::json!({
                    "type": "repository", "name": parts[1], "actions": granted,
                }));
            }
        }
    }
    let known = matches!(
        (user.as_deref(), pass.as_str()),
        (Some("alice"), "secret") | (Some("pusher"), "push")
    );
    let mut out = conn;
    if user.is_some() && !known {
        let body = r#"{"details":"incorrect username or password"}"#;
        let _ = write!(
            out,
            "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        return;
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let header = serde_json::json!({"alg": "RS256", "typ": "JWT", "x5c": [x5c]});
    let claims = serde_json::json!({
        "iss": ISSUER, "sub": user.clone().unwrap_or_default(), "aud": SERVICE,
        "exp": now + 300, "nbf": now - 10, "iat": now,
        "jti": format!("{now}-{}", access.len()), "access": access,
    });
    let signing_input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes(), true),
        b64(claims.to_string().as_bytes(), true)
    );
    let sig = keys.sign(signing_input.as_bytes());
    let token = format!("{signing_input}.{}", b64(&sig, true));
    let body =
        serde_json::json!({"token": token, "access_token": token, "expires_in": 300}).to_string();
    let _ = write!(
        out,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

fn start_registry(issuer: &Issuer, keys: &Keys) -> Registry {
    let yaml = format!(
        "auth:\n  token:\n    realm: http://{}/token\n    service: {SERVICE}\n    issuer: {ISSUER}\n    rootcertbundle: {}\n",
        issuer.addr,
        keys.cert().display()
    );
    let reg = Registry::builder().extra_yaml(&yaml).start();
    for name in [BUSYBOX, LAYERED] {
        reg.push_as(
            name,
            name,
            &["--preserve-digests", "--dest-creds", "pusher:push"],
        );
    }
    reg
}

fn login(root: &TestRoot, server: &str, user: &str, pass: &str) -> std::process::Output {
    let mut child = root
        .glassbox()
        .args(["login", server, "-u", user, "--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{pass}").unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn bearer_tokens_from_the_challenge_scope_each_repository() {
    require_root();
    let keys = Arc::new(Keys::new());
    let issuer = Issuer::start(keys.clone());
    let reg = start_registry(&issuer, &keys);
    let server = reg.addr().to_string();
    let root = TestRoot::new();

    // No credentials: the anonymous token grants nothing.
    let err = root.fails(&["pull", &reg.reference(BUSYBOX)]);
    assert!(err.contains("unauthorized"), "{err}");
    assert!(err.contains("glassbox login"), "says what to do: {err}");
    assert!(
        !root.path().join("layers").exists()
            || std::fs::read_dir(root.path().join("layers"))
                .unwrap()
                .count()
                == 0
    );

    // Wrong password: login refuses and stores nothing.
    let out = login(&root, &server, "alice", "wrong");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unauthorized"));
    assert!(!root.path().join("auth.json").exists());

    // Right password: stored in Docker's auths format, 0600.
    let out = login(&root, &server, "alice", "secret");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "Login Succeeded"
    );
    let auth_path = root.path().join("auth.json");
    let auth: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&auth_path).unwrap()).unwrap();
    assert_eq!(
        auth["auths"][&server]["auth"],
        b64(b"alice:secret", false).as_str()
    );
    use std::os::unix::fs::MetadataExt;
    assert_eq!(std::fs::metadata(&auth_path).unwrap().mode() & 0o777, 0o600);

    let out = root.ok(&["pull", &reg.reference(BUSYBOX)]);
    assert!(out.contains("Pull complete"), "{out}");
    // alice's token is scoped to busybox: layered is refused.
    let err = root.fails(&["pull", &reg.reference(LAYERED)]);
    assert!(
        err.contains("unauthorized") || err.contains("denied"),
        "{err}"
    );
    assert_eq!(
        root.ok(&["images", "-q"]).lines().count(),
        1,
        "only busybox was stored"
    );
    assert!(
        root.ok(&["logout", &server])
            .contains("Removing login credentials")
    );
}

#[test]
fn basic_auth_with_credentials_from_a_docker_config_file() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    // docker-registry's htpasswd takes bcrypt only: python3's crypt module
    // (up to Python 3.12) or mkpasswd (package whois) make one.
    let hash = Command::new("python3")
        .args([
            "-c",
            "import crypt; print(crypt.crypt('s3cret', crypt.mksalt(crypt.METHOD_BLOWFISH)))",
        ])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .or_else(|| {
            Command::new("mkpasswd")
                .args(["-m", "bcrypt", "s3cret"])
                .output()
                .ok()
                .filter(|o| o.status.success())
        })
        .expect(
            "a bcrypt hash for htpasswd: needs python3 <= 3.12 or mkpasswd (apt-get install whois)",
        );
    let htpasswd = dir.path().join("htpasswd");
    std::fs::write(
        &htpasswd,
        format!("bob:{}\n", String::from_utf8_lossy(&hash.stdout).trim()),
    )
    .unwrap();
    let yaml = format!(
        "auth:\n  htpasswd:\n    realm: glassbox-basic\n    path: {}\n",
        htpasswd.display()
    );
    let reg = Registry::builder().extra_yaml(&yaml).start();
    reg.push_as(
        BUSYBOX,
        BUSYBOX,
        &["--preserve-digests", "--dest-creds", "bob:s3cret"],
    );

    let root = TestRoot::new();
    let r = reg.reference(BUSYBOX);
    let err = root.fails(&["pull", &r]);
    assert!(
        err.contains("unauthorized") && err.contains("glassbox login"),
        "{err}"
    );

    // Docker's own file, found through DOCKER_CONFIG.
    let docker_config = dir.path().join("docker");
    std::fs::create_dir(&docker_config).unwrap();
    std::fs::write(
        docker_config.join("config.json"),
        serde_json::json!({"auths": {reg.addr().to_string(): {"auth": b64(b"bob:s3cret", false)}}})
            .to_string(),
    )
    .unwrap();
    let out = root
        .glassbox()
        .env("DOCKER_CONFIG", &docker_config)
        .args(["pull", &r])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("Pull complete"));
}
