//! The test images of `fixtures/build.sh` (see fixtures/README.md for what
//! each one contains), built once per machine into `target/tmp/fixtures`
//! and read back from their OCI layouts.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

/// One layer: busybox-static, its applet links, a small /etc.
pub const BUSYBOX: &str = "busybox";
/// Busybox's layer, a layer with a whiteout and an opaque dir, a layer that adds files.
pub const LAYERED: &str = "layered";
/// A small image whose config says linux/arm64.
pub const ARM64: &str = "arm64";
/// An image index: busybox for linux/amd64, arm64 for linux/arm64.
pub const MULTIARCH: &str = "multiarch";
/// Every image the script builds.
pub const ALL: [&str; 4] = [BUSYBOX, LAYERED, ARM64, MULTIARCH];

/// What `layered`'s second layer does (paths without the leading slash).
pub mod layered {
    /// Present in busybox's layer, deleted by `etc/.wh.motd`.
    pub const DELETED_FILE: &str = "etc/motd";
    /// Replaced by an opaque directory (`.wh..wh..opq`).
    pub const OPAQUE_DIR: &str = "usr/share/glassbox";
    /// What the opaque directory hides (from busybox's layer).
    pub const HIDDEN_FILES: [&str; 2] = [
        "usr/share/glassbox/readme.txt",
        "usr/share/glassbox/version.txt",
    ];
    /// The only file in the opaque directory afterwards.
    pub const OPAQUE_DIR_FILE: &str = "usr/share/glassbox/layer2.txt";
    /// Added by the third layer.
    pub const ADDED_FILES: [&str; 3] = ["app/data.txt", "app/hello.sh", "etc/layer3.conf"];
}

/// The fixtures directory, built (or found up to date) on first use. Test
/// processes running at once serialize on the script's file lock
/// (`flock` on `fixtures.lock` next to it), and its stamp makes every build
/// after the first a no-op.
pub fn dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(build)
}

fn build() -> PathBuf {
    let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(&base).unwrap_or_else(|e| panic!("create {}: {e}", base.display()));
    let out = base.join("fixtures");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/build.sh");
    let result = Command::new("bash")
        .arg(&script)
        .arg(&out)
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", script.display()));
    assert!(
        result.status.success(),
        "{} {} failed with {}\n--- stdout\n{}\n--- stderr\n{}",
        script.display(),
        out.display(),
        result.status,
        String::from_utf8_lossy(&result.stdout),
        String::from_utf8_lossy(&result.stderr)
    );
    out
}

/// The OCI image layout of `name` (tag `latest`).
pub fn oci_layout(name: &str) -> PathBuf {
    dir().join("oci").join(name)
}

/// `oci:PATH:latest`, a reference for skopeo.
pub fn oci_ref(name: &str) -> String {
    format!("oci:{}:latest", oci_layout(name).display())
}

/// The `docker save` style archive of `name`.
pub fn archive(name: &str) -> PathBuf {
    dir().join("archives").join(format!("{name}.tar"))
}

/// The layout's `index.json`.
pub fn layout_index(name: &str) -> Value {
    read_json(&oci_layout(name).join("index.json"))
}

/// The descriptor `index.json` tags `latest`: a manifest's, or for
/// `multiarch` an image index's.
pub fn top_descriptor(name: &str) -> Value {
    layout_index(name)["manifests"][0].clone()
}

/// The digest a registry answers for `name:latest` (manifest or index).
pub fn digest(name: &str) -> String {
    str_field(&top_descriptor(name), "digest")
}

/// The media type of what `name:latest` points to.
pub fn media_type(name: &str) -> String {
    str_field(&top_descriptor(name), "mediaType")
}

/// The raw bytes of a blob of `name`'s layout.
pub fn blob(name: &str, digest: &str) -> Vec<u8> {
    let hex = digest
        .strip_prefix("sha256:")
        .unwrap_or_else(|| panic!("not a sha256 digest: {digest}"));
    let path = oci_layout(name).join("blobs/sha256").join(hex);
    std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// A JSON blob of `name`'s layout.
pub fn blob_json(name: &str, digest: &str) -> Value {
    serde_json::from_slice(&blob(name, digest))
        .unwrap_or_else(|e| panic!("blob {digest} of {name} is not JSON: {e}"))
}

/// The image manifest of a single-platform image (not `multiarch`).
pub fn manifest(name: &str) -> Value {
    blob_json(name, &digest(name))
}

/// The image index of `multiarch`.
pub fn index(name: &str) -> Value {
    blob_json(name, &digest(name))
}

/// `(digest, "os/architecture")` of each manifest an index lists.
pub fn platforms(name: &str) -> Vec<(String, String)> {
    index(name)["manifests"]
        .as_array()
        .unwrap_or_else(|| panic!("{name} is not an image index"))
        .iter()
        .map(|m| {
            let p = &m["platform"];
            (
                str_field(m, "digest"),
                format!("{}/{}", str_field(p, "os"), str_field(p, "architecture")),
            )
        })
        .collect()
}

/// The compressed layer digests of a single-platform image, base first.
pub fn layer_digests(name: &str) -> Vec<String> {
    manifest(name)["layers"]
        .as_array()
        .unwrap_or_else(|| panic!("{name}: manifest has no layers"))
        .iter()
        .map(|l| str_field(l, "digest"))
        .collect()
}

/// The config digest of a single-platform image.
pub fn config_digest(name: &str) -> String {
    str_field(&manifest(name)["config"], "digest")
}

/// The image config of a single-platform image.
pub fn config(name: &str) -> Value {
    blob_json(name, &config_digest(name))
}

/// The config's `rootfs.diff_ids`: sha256 of each uncompressed layer.
pub fn diff_ids(name: &str) -> Vec<String> {
    config(name)["rootfs"]["diff_ids"]
        .as_array()
        .unwrap_or_else(|| panic!("{name}: config has no diff_ids"))
        .iter()
        .map(|d| d.as_str().expect("diff_id is a string").to_string())
        .collect()
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_slice(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

fn str_field(v: &Value, key: &str) -> String {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("no string {key:?} in {v}"))
        .to_string()
}

/// `sha256:<hex>` of some bytes.
pub fn sha256_digest(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let hash = Sha256::digest(bytes);
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}
