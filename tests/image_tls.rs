//! HTTPS registries: a `docker-registry` on 127.0.0.1 serving TLS with a
//! certificate from a CA made here. glassbox trusts it only once the CA is
//! in `certs.d/127.0.0.1:PORT/ca.crt` under the state root (Docker's
//! layout); without it, it says what to do. Needs root.

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::fixtures::{self, BUSYBOX};
use common::{TestRoot, require_root};

fn openssl(args: &[&str], dir: &Path) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A self-signed CA certificate `crt` with its key `key`, in `dir`.
fn make_ca(dir: &Path, cn: &str, key: &str, crt: &str) {
    let subject = format!("/CN={cn}");
    openssl(
        &[
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", &subject,
            "-keyout", key, "-out", crt,
        ],
        dir,
    );
}

/// A CA, and a server certificate for IP 127.0.0.1 signed by it.
fn make_certs(dir: &Path) {
    make_ca(dir, "glassbox test CA", "ca.key", "ca.crt");
    openssl(
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ],
        dir,
    );
    std::fs::write(dir.join("ext.cnf"), "subjectAltName=IP:127.0.0.1\n").unwrap();
    openssl(
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
            "-out",
            "server.crt",
        ],
        dir,
    );
}

/// A TLS registry on a free loopback port, killed on drop.
struct TlsRegistry {
    child: Child,
    addr: String,
    dir: tempfile::TempDir,
}

impl Drop for TlsRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl TlsRegistry {
    fn start() -> TlsRegistry {
        let dir = tempfile::Builder::new().prefix("gbtls-").tempdir().unwrap();
        make_certs(dir.path());
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = format!("127.0.0.1:{port}");
        let d = dir.path().display();
        std::fs::write(
            dir.path().join("config.yml"),
            format!(
                "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n\
                 storage:\n  filesystem:\n    rootdirectory: {d}/storage\n\
                 http:\n  addr: {addr}\n  tls:\n    certificate: {d}/server.crt\n    key: {d}/server.key\n"
            ),
        )
        .unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(dir.path().join("config.yml"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let reg = TlsRegistry { child, addr, dir };
        let start = Instant::now();
        loop {
            let ok = Command::new("curl")
                .args(["-fs", "--noproxy", "*", "--cacert"])
                .arg(reg.ca())
                .arg(format!("https://{}/v2/", reg.addr))
                .stdout(Stdio::null())
                .status()
                .unwrap()
                .success();
            if ok {
                return reg;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "TLS registry did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.crt")
    }
}

#[test]
fn https_registries_are_trusted_through_certs_d() {
    require_root();
    let reg = TlsRegistry::start();
    let r = format!("{}/busybox:latest", reg.addr);
    common::registry::skopeo_copy(BUSYBOX, &r, &[]).unwrap_or_else(|e| panic!("skopeo: {e}"));
    let root = TestRoot::new();

    // No CA: loopback means plain HTTP, and the registry says it wants TLS.
    let err = root.fails(&["pull", &r]);
    assert!(
        err.contains("speaks HTTPS") && err.contains("certs.d"),
        "{err}"
    );

    // A CA that did not sign the server's certificate: TLS refuses.
    let certs = root.path().join("certs.d").join(&reg.addr);
    std::fs::create_dir_all(&certs).unwrap();
    let other = tempfile::tempdir().unwrap();
    make_ca(other.path(), "other", "o.key", "o.crt");
    std::fs::copy(other.path().join("o.crt"), certs.join("ca.crt")).unwrap();
    let err = root.fails(&["pull", &r]);
    assert!(err.contains("cannot reach registry"), "{err}");

    // The right CA: HTTPS, verified.
    std::fs::copy(reg.ca(), certs.join("ca.crt")).unwrap();
    let out = root.run(&["-v", "pull", &r]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert!(common::stdout(&out).contains("Pull complete"));
    assert!(
        common::stderr(&out).contains(&format!("curl -sL https://{}/v2/", reg.addr)),
        "the trace shows HTTPS: {}",
        common::stderr(&out)
    );
    let v: serde_json::Value = serde_json::from_str(&root.ok(&["image", "inspect", &r])).unwrap();
    assert_eq!(v[0]["Id"], fixtures::config_digest(BUSYBOX).as_str());
}
