//! The test rig itself: the fixture images (fixtures/build.sh) and the
//! loopback registry helper. A plain HTTP client pulls manifests and blobs
//! from a real `docker-registry` filled by skopeo and checks them against
//! the OCI layouts the script wrote. Needs no root.

mod common;

use std::collections::BTreeSet;
use std::io::Read;

use common::fixtures::{self, ARM64, BUSYBOX, LAYERED, MULTIARCH};
use common::registry::{self, MANIFEST_ACCEPT, Registry};
use serde_json::Value;

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// GET a registry path; returns (Content-Type, Docker-Content-Digest, body).
fn get(reg: &Registry, path: &str, accept: &str) -> (String, String, Vec<u8>) {
    let url = reg.url(path);
    let mut resp = registry::agent()
        .get(&url)
        .header("Accept", accept)
        .call()
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = resp.status();
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let content_type = header("content-type");
    let digest = header("docker-content-digest");
    let body = resp
        .body_mut()
        .with_config()
        .limit(64 << 20)
        .read_to_vec()
        .unwrap_or_else(|e| panic!("read body of {url}: {e}"));
    assert_eq!(
        status,
        200,
        "GET {url}: {}\n--- registry log\n{}",
        String::from_utf8_lossy(&body),
        reg.log()
    );
    (content_type, digest, body)
}

fn json(body: &[u8]) -> Value {
    serde_json::from_slice(body).expect("a JSON body")
}

/// Paths inside a gzip-compressed layer tar.
fn layer_entries(blob: &[u8]) -> BTreeSet<String> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(blob));
    archive
        .entries()
        .expect("read the layer tar")
        .map(|e| {
            let e = e.expect("a tar entry");
            e.path().expect("a tar path").to_string_lossy().into_owned()
        })
        .collect()
}

#[test]
fn registry_serves_each_fixture_with_its_layout_digest() {
    let reg = Registry::with_fixtures();

    // busybox: the body's sha256, the registry's digest header and the
    // OCI layout's index.json all agree.
    let (ctype, header, body) = get(&reg, "/v2/busybox/manifests/latest", MANIFEST_ACCEPT);
    assert_eq!(ctype, OCI_MANIFEST);
    assert_eq!(fixtures::sha256_digest(&body), header);
    assert_eq!(header, fixtures::digest(BUSYBOX));
    let busybox = json(&body);
    let busybox_layers = fixtures::layer_digests(BUSYBOX);
    assert_eq!(busybox_layers.len(), 1);
    assert_eq!(busybox["layers"][0]["digest"], busybox_layers[0].as_str());

    // The same manifest by digest.
    let (_, by_digest, body2) = get(
        &reg,
        &format!("/v2/busybox/manifests/{header}"),
        MANIFEST_ACCEPT,
    );
    assert_eq!((by_digest, body2), (header.clone(), body));

    // layered: three layers, the base byte-identical to busybox's.
    let (ctype, header, body) = get(&reg, "/v2/layered/manifests/latest", MANIFEST_ACCEPT);
    assert_eq!(ctype, OCI_MANIFEST);
    assert_eq!(fixtures::sha256_digest(&body), header);
    assert_eq!(header, fixtures::digest(LAYERED));
    let layered: Vec<String> = json(&body)["layers"]
        .as_array()
        .expect("layers")
        .iter()
        .map(|l| l["digest"].as_str().expect("digest").to_string())
        .collect();
    assert_eq!(layered.len(), 3);
    assert_eq!(layered[0], busybox_layers[0]);
    assert_eq!(layered, fixtures::layer_digests(LAYERED));

    // Its second layer, pulled as a blob, carries the whiteout and the
    // opaque marker of fixtures/README.md.
    let (_, _, blob) = get(&reg, &format!("/v2/layered/blobs/{}", layered[1]), "*/*");
    assert_eq!(fixtures::sha256_digest(&blob), layered[1]);
    let entries = layer_entries(&blob);
    assert!(entries.contains("etc/.wh.motd"), "{entries:?}");
    assert!(
        entries.contains("usr/share/glassbox/.wh..wh..opq"),
        "{entries:?}"
    );
    assert!(
        entries.contains(fixtures::layered::OPAQUE_DIR_FILE),
        "{entries:?}"
    );
    let (_, _, top) = get(&reg, &format!("/v2/layered/blobs/{}", layered[2]), "*/*");
    let top = layer_entries(&top);
    for added in fixtures::layered::ADDED_FILES {
        assert!(top.contains(added), "{added} not in {top:?}");
    }
    // And the base layer holds what the whiteouts remove.
    let (_, _, base) = get(&reg, &format!("/v2/busybox/blobs/{}", layered[0]), "*/*");
    let base = layer_entries(&base);
    assert!(base.contains(fixtures::layered::DELETED_FILE), "{base:?}");
    for hidden in fixtures::layered::HIDDEN_FILES {
        assert!(base.contains(hidden), "{hidden} not in {base:?}");
    }
    assert!(base.contains("bin/busybox") && base.contains("bin/sh"));

    // multiarch: an index listing busybox for amd64 and arm64 for arm64.
    let (ctype, header, body) = get(&reg, "/v2/multiarch/manifests/latest", MANIFEST_ACCEPT);
    assert_eq!(ctype, OCI_INDEX);
    assert_eq!(fixtures::sha256_digest(&body), header);
    assert_eq!(header, fixtures::digest(MULTIARCH));
    let listed: Vec<(String, String)> = json(&body)["manifests"]
        .as_array()
        .expect("manifests")
        .iter()
        .map(|m| {
            let p = &m["platform"];
            (
                m["digest"].as_str().expect("digest").to_string(),
                format!(
                    "{}/{}",
                    p["os"].as_str().expect("os"),
                    p["architecture"].as_str().expect("architecture")
                ),
            )
        })
        .collect();
    assert_eq!(
        listed,
        vec![
            (fixtures::digest(BUSYBOX), "linux/amd64".to_string()),
            (fixtures::digest(ARM64), "linux/arm64".to_string()),
        ]
    );
    assert_eq!(listed, fixtures::platforms(MULTIARCH));
    // The arm64 manifest was pushed along (--all) and its config says arm64.
    let (_, header, body) = get(
        &reg,
        &format!("/v2/multiarch/manifests/{}", listed[1].0),
        MANIFEST_ACCEPT,
    );
    assert_eq!(header, listed[1].0);
    let config_digest = json(&body)["config"]["digest"]
        .as_str()
        .expect("config digest")
        .to_string();
    let (_, _, config) = get(&reg, &format!("/v2/multiarch/blobs/{config_digest}"), "*/*");
    assert_eq!(json(&config)["architecture"], "arm64");
    assert_eq!(json(&config)["os"], "linux");
}

#[test]
fn registry_process_and_storage_are_gone_after_drop() {
    let reg = Registry::start();
    let pid = reg.pid();
    let dir = reg.dir().to_path_buf();
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
    assert!(dir.join("storage").is_dir());
    drop(reg);
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "docker-registry (pid {pid}) still runs after drop"
    );
    assert!(!dir.exists(), "{} still exists after drop", dir.display());
}

#[test]
fn docker_archives_hold_the_layout_configs_and_layers() {
    for (name, image) in [
        (BUSYBOX, BUSYBOX),
        (LAYERED, LAYERED),
        (ARM64, ARM64),
        (MULTIARCH, BUSYBOX), // the linux/amd64 image of the index
    ] {
        let path = fixtures::archive(name);
        let mut files = std::collections::BTreeMap::new();
        let file = std::fs::File::open(&path).expect("open the archive");
        for entry in tar::Archive::new(file).entries().expect("read the archive") {
            let mut entry = entry.expect("an archive entry");
            if entry.header().entry_type().is_file() {
                let p = entry.path().expect("a path").to_string_lossy().into_owned();
                let mut data = Vec::new();
                entry.read_to_end(&mut data).expect("read an entry");
                files.insert(p, data);
            }
        }
        let manifest = json(&files["manifest.json"]);
        let manifest = &manifest[0];
        assert_eq!(
            manifest["RepoTags"][0],
            format!("docker.io/library/{name}:latest").as_str()
        );
        let config = manifest["Config"].as_str().expect("Config");
        assert_eq!(
            fixtures::sha256_digest(&files[config]),
            fixtures::config_digest(image),
            "{name}: config"
        );
        let layers: Vec<String> = manifest["Layers"]
            .as_array()
            .expect("Layers")
            .iter()
            .map(|l| fixtures::sha256_digest(&files[l.as_str().expect("a layer path")]))
            .collect();
        assert_eq!(layers, fixtures::diff_ids(image), "{name}: layers");
    }
}

#[test]
fn fixture_build_is_reproducible_cached_and_safe_to_run_twice_at_once() {
    let first = fixtures::dir();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/build.sh");
    let again = tempfile::tempdir().expect("a temp dir");
    let out = again.path().join("out");
    // Two builds of the same OUTDIR at once: one builds, the other waits
    // for the lock and finds the stamp.
    let runs: Vec<_> = (0..2)
        .map(|_| {
            std::process::Command::new("bash")
                .arg(script)
                .arg(&out)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("run fixtures/build.sh")
        })
        .collect();
    let mut said: Vec<String> = runs
        .into_iter()
        .map(|run| {
            let run = run.wait_with_output().expect("wait for fixtures/build.sh");
            let stdout = common::stdout(&run);
            assert!(
                run.status.success(),
                "fixtures/build.sh: {}\n{stdout}\n{}",
                run.status,
                common::stderr(&run)
            );
            stdout.split(" in ").next().unwrap_or_default().to_string()
        })
        .collect();
    said.sort();
    assert_eq!(said, ["fixtures built", "fixtures up to date"]);
    let leftovers: Vec<_> = std::fs::read_dir(again.path())
        .expect("list the temp dir")
        .map(|e| e.expect("a dir entry").file_name())
        .collect();
    assert_eq!(leftovers.len(), 2, "out and out.lock only: {leftovers:?}");

    let digests = |dir: &std::path::Path| {
        std::fs::read_to_string(dir.join("digests.json")).expect("read digests.json")
    };
    assert_eq!(digests(first), digests(&out));
    for name in fixtures::ALL {
        let a = std::fs::read(fixtures::archive(name)).expect("read an archive");
        let b = std::fs::read(out.join("archives").join(format!("{name}.tar")))
            .expect("read an archive");
        assert!(a == b, "{name}.tar differs between two builds");
    }
}

/// A parameter of a `WWW-Authenticate: Bearer k="v",...` challenge.
fn challenge_param(challenge: &str, key: &str) -> String {
    challenge
        .trim_start_matches("Bearer ")
        .split(',')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| k.trim() == key)
        .map(|(_, v)| v.trim_matches('"').to_string())
        .unwrap_or_else(|| panic!("no {key} in {challenge:?}"))
}

#[test]
fn token_auth_registry_challenges_and_accepts_bearer_tokens() {
    let reg = Registry::builder().token_auth().start();
    let tokens = reg.token_server().expect("a token server");
    // skopeo gets through the same flow to push.
    reg.push(&[BUSYBOX]);
    assert!(
        tokens
            .requests()
            .iter()
            .any(|r| r.contains("busybox") && r.contains("push")),
        "skopeo asked for no push token: {:?}",
        tokens.requests()
    );

    let agent = registry::agent();
    let url = reg.url("/v2/busybox/manifests/latest");
    let fetch = |bearer: Option<&str>| {
        let mut req = agent.get(&url).header("Accept", MANIFEST_ACCEPT);
        if let Some(token) = bearer {
            req = req.header("Authorization", &format!("Bearer {token}"));
        }
        let mut resp = req.call().unwrap_or_else(|e| panic!("GET {url}: {e}"));
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string()
        };
        let (challenge, digest) = (header("www-authenticate"), header("docker-content-digest"));
        let status = resp.status().as_u16();
        let body = resp.body_mut().read_to_vec().expect("read a body");
        (status, challenge, digest, body)
    };

    // Without a token: 401 and a challenge naming realm, service and scope.
    let (status, challenge, _, _) = fetch(None);
    assert_eq!(status, 401);
    assert!(challenge.starts_with("Bearer "), "{challenge}");
    let realm = challenge_param(&challenge, "realm");
    let service = challenge_param(&challenge, "service");
    let scope = challenge_param(&challenge, "scope");
    assert_eq!(realm, tokens.realm());
    assert_eq!(service, registry::token::SERVICE);
    assert_eq!(scope, "repository:busybox:pull");

    // The token from the realm opens the door.
    let token_url = format!("{realm}?service={service}&scope={scope}");
    let mut resp = agent
        .get(&token_url)
        .call()
        .unwrap_or_else(|e| panic!("GET {token_url}: {e}"));
    assert_eq!(resp.status().as_u16(), 200);
    let answer = json(&resp.body_mut().read_to_vec().expect("read the token"));
    let token = answer["token"].as_str().expect("a token").to_string();
    let (status, _, digest, body) = fetch(Some(&token));
    assert_eq!(status, 200, "{}", reg.log());
    assert_eq!(digest, fixtures::digest(BUSYBOX));
    assert_eq!(fixtures::sha256_digest(&body), digest);

    // A token whose signature was tampered with is refused.
    let (head, sig) = token.rsplit_once('.').expect("a JWT");
    let flipped = if sig.starts_with('A') { 'B' } else { 'A' };
    let forged = format!("{head}.{flipped}{}", &sig[1..]);
    let (status, _, _, _) = fetch(Some(&forged));
    assert_eq!(status, 401);
}
