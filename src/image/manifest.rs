//! The JSON documents of an image: manifests, indexes (manifest lists),
//! descriptors and the image config, in both the OCI and the Docker v2
//! schema 2 spellings (they are field-for-field the same shape, with
//! different media types). Read the OCI image spec's manifest.md,
//! image-index.md, descriptor.md and config.md.

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
pub const DOCKER_SCHEMA1: &str = "application/vnd.docker.distribution.manifest.v1+prettyjws";

/// What we ask registries for, best first.
pub const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
application/vnd.docker.distribution.manifest.list.v2+json, \
application/vnd.oci.image.manifest.v1+json, \
application/vnd.docker.distribution.manifest.v2+json";

/// A pointer to content: media type, digest, size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<std::collections::BTreeMap<String, String>>,
}

/// `os/architecture[/variant]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    pub architecture: String,
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl Platform {
    /// The platform this machine runs, in OCI's (Go's) names.
    pub fn host() -> Platform {
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "x86" => "386",
            "arm" => "arm",
            "powerpc64" => "ppc64le",
            "s390x" => "s390x",
            "riscv64" => "riscv64",
            other => other,
        };
        Platform {
            architecture: arch.to_string(),
            os: "linux".to_string(),
            variant: (arch == "arm64").then(|| "v8".to_string()),
        }
    }

    /// Parse `linux/arm64`, `linux/arm/v7`, `arm64` (os linux implied).
    pub fn parse(s: &str) -> Result<Platform> {
        let parts: Vec<&str> = s.split('/').collect();
        let (os, arch, variant) = match parts.as_slice() {
            [arch] => ("linux", *arch, None),
            [os, arch] => (*os, *arch, None),
            [os, arch, v] => (*os, *arch, Some(v.to_string())),
            _ => bail!("invalid platform {s:?}: use OS/ARCH[/VARIANT], e.g. linux/arm64"),
        };
        if os.is_empty() || arch.is_empty() {
            bail!("invalid platform {s:?}: use OS/ARCH[/VARIANT], e.g. linux/arm64");
        }
        let arch = match arch {
            "x86_64" | "x86-64" => "amd64",
            "aarch64" => "arm64",
            a => a,
        };
        Ok(Platform {
            os: os.to_string(),
            architecture: arch.to_string(),
            variant,
        })
    }

    /// Does an index entry's platform satisfy this wanted one? A missing
    /// variant matches any (arm64 images often omit `v8`).
    pub fn matches(&self, have: &Platform) -> bool {
        self.os == have.os
            && self.architecture == have.architecture
            && match (&self.variant, &have.variant) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            }
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// An image manifest (OCI or Docker schema 2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<std::collections::BTreeMap<String, String>>,
}

/// An image index / manifest list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Index {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    pub manifests: Vec<Descriptor>,
}

/// What a manifest document turned out to be.
#[derive(Debug, Clone)]
pub enum Document {
    Manifest(Manifest),
    Index(Index),
}

impl Document {
    /// Parse by the media type the registry sent (or the document's own
    /// `mediaType`, or its shape when neither says).
    pub fn parse(bytes: &[u8], content_type: Option<&str>) -> Result<Document> {
        let v: serde_json::Value = serde_json::from_slice(bytes)
            .context("the manifest is not JSON: the registry sent something else")?;
        let declared = v.get("mediaType").and_then(|m| m.as_str());
        let ct = content_type
            .map(|c| c.split(';').next().unwrap_or("").trim())
            .filter(|c| !c.is_empty() && *c != "application/json");
        let mt = ct.or(declared).unwrap_or(if v.get("manifests").is_some() {
            OCI_INDEX
        } else {
            OCI_MANIFEST
        });
        match mt {
            OCI_INDEX | DOCKER_LIST => Ok(Document::Index(
                serde_json::from_value(v).context("parse the image index")?,
            )),
            OCI_MANIFEST | DOCKER_MANIFEST => {
                let m: Manifest = serde_json::from_value(v).context("parse the image manifest")?;
                if m.schema_version != 2 {
                    bail!(
                        "manifest schemaVersion {} is not supported (only 2)",
                        m.schema_version
                    );
                }
                Ok(Document::Manifest(m))
            }
            DOCKER_SCHEMA1 | "application/vnd.docker.distribution.manifest.v1+json" => bail!(
                "unsupported manifest media type {mt}: Docker schema 1 images are deprecated; push the image again with a current Docker or skopeo"
            ),
            other => bail!("unsupported manifest media type {other:?}"),
        }
    }

    pub fn media_type(&self) -> &str {
        match self {
            Document::Manifest(m) => m.media_type.as_deref().unwrap_or(OCI_MANIFEST),
            Document::Index(i) => i.media_type.as_deref().unwrap_or(OCI_INDEX),
        }
    }
}

impl Index {
    /// The entry for `want`, or an error listing what there is.
    pub fn choose(&self, want: &Platform) -> Result<&Descriptor> {
        let found = self
            .manifests
            .iter()
            .find(|d| d.platform.as_ref().is_some_and(|p| want.matches(p)));
        match found {
            Some(d) => Ok(d),
            None => {
                let have: Vec<String> = self
                    .manifests
                    .iter()
                    .filter_map(|d| d.platform.as_ref().map(|p| p.to_string()))
                    .collect();
                bail!(
                    "no matching manifest for {want} in the manifest list entries (it has: {}); choose one with --platform",
                    have.join(", ")
                )
            }
        }
    }
}

/// Is this a layer media type we can unpack?
pub fn check_layer_media_type(mt: &str) -> Result<()> {
    match mt {
        OCI_LAYER
        | OCI_LAYER_GZIP
        | OCI_LAYER_ZSTD
        | DOCKER_LAYER
        | "application/vnd.docker.image.rootfs.diff.tar"
        | "application/vnd.docker.image.rootfs.diff.tar.zstd" => Ok(()),
        other => bail!("unsupported layer media type {other:?}"),
    }
}

/// The image config (the parts glassbox reads; the rest is kept as JSON).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ImageConfig {
    #[serde(default)]
    pub created: Option<String>,
    #[serde(default)]
    pub author: Option<String>,
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    #[serde(default)]
    pub config: serde_json::Value,
    pub rootfs: RootFs,
    #[serde(default)]
    pub history: Vec<History>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RootFs {
    #[serde(rename = "type")]
    pub kind: String,
    pub diff_ids: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub empty_layer: bool,
}

impl ImageConfig {
    pub fn parse(bytes: &[u8]) -> Result<ImageConfig> {
        let c: ImageConfig =
            serde_json::from_slice(bytes).context("parse the image config (JSON)")?;
        if c.rootfs.kind != "layers" {
            bail!(
                "image config rootfs.type is {:?}, not \"layers\"",
                c.rootfs.kind
            );
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platforms_parse_and_match() {
        let p = Platform::parse("linux/arm64").unwrap();
        assert_eq!(p.to_string(), "linux/arm64");
        assert!(p.matches(&Platform::parse("linux/arm64/v8").unwrap()));
        assert!(!p.matches(&Platform::parse("linux/amd64").unwrap()));
        assert_eq!(
            Platform::parse("x86_64").unwrap().to_string(),
            "linux/amd64"
        );
        assert!(Platform::parse("a/b/c/d").is_err());
        assert!(Platform::parse("/").is_err());
    }

    #[test]
    fn documents_are_told_apart() {
        let idx = br#"{"schemaVersion":2,"manifests":[
            {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:a","size":1,"platform":{"architecture":"amd64","os":"linux"}},
            {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:b","size":1,"platform":{"architecture":"arm64","os":"linux","variant":"v8"}}]}"#;
        let Document::Index(i) = Document::parse(idx, Some(OCI_INDEX)).unwrap() else {
            panic!("an index")
        };
        assert_eq!(
            i.choose(&Platform::parse("linux/arm64").unwrap())
                .unwrap()
                .digest,
            "sha256:b"
        );
        assert_eq!(
            i.choose(&Platform::parse("linux/amd64").unwrap())
                .unwrap()
                .digest,
            "sha256:a"
        );
        let e = format!(
            "{:#}",
            i.choose(&Platform::parse("linux/s390x").unwrap())
                .unwrap_err()
        );
        assert!(e.contains("linux/amd64, linux/arm64/v8"), "{e}");
        let e = format!("{:#}", Document::parse(b"<html>", None).unwrap_err());
        assert!(e.contains("not JSON"), "{e}");
        let e = format!(
            "{:#}",
            Document::parse(b"{}", Some("text/weird")).unwrap_err()
        );
        assert!(e.contains("unsupported manifest media type"), "{e}");
        let e = format!(
            "{:#}",
            Document::parse(b"{\"schemaVersion\":1}", Some(DOCKER_SCHEMA1)).unwrap_err()
        );
        assert!(e.contains("schema 1"), "{e}");
        assert!(check_layer_media_type(DOCKER_LAYER).is_ok());
        assert!(
            check_layer_media_type("application/vnd.docker.image.rootfs.foreign.diff.tar.gzip")
                .is_err()
        );
    }
}
