//! OCI images: references, a content-addressed store whose layers are
//! unpacked once and shared, the registry v2 client, and the archive
//! formats (`docker save`, OCI layout). Read the OCI image spec
//! (manifest.md, image-index.md, config.md, layer.md) and the OCI
//! distribution spec.

pub mod add;
pub mod archive;
pub mod digest;
pub mod human;
pub mod import;
pub mod manage;
pub mod manifest;
pub mod progress;
pub mod pull;
pub mod reference;
pub mod registry;
pub mod store;
pub mod unpack;
