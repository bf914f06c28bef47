//! A pull leaves no thread behind: every download thread is joined before
//! `pull` returns, so a later `setns(2)` into a mount namespace (which a
//! multithreaded process cannot do) works in the same process. One test
//! in this binary, so no other test's threads are counted. Needs root.

mod common;

use common::fixtures::LAYERED;
use common::registry::Registry;
use common::{TestRoot, require_root};

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

#[test]
fn a_pull_joins_every_thread_it_started() {
    require_root();
    let reg = Registry::with_fixtures();
    let root = TestRoot::new();
    let groot = glassbox::state::Root::new(Some(root.path())).unwrap();
    let r = glassbox::image::reference::Reference::parse(&reg.reference(LAYERED)).unwrap();
    let before = threads();
    let opts = glassbox::image::pull::PullOptions {
        quiet: true,
        ..Default::default()
    };
    let pulled = glassbox::image::pull::pull(&groot, &r, &opts).unwrap();
    assert_eq!(pulled.downloaded_layers, 3);
    assert_eq!(threads(), before, "threads left running after pull");
}
