//! Writing and reading content-addressed objects on a real file system.
//!
//! `put_object` of a new blob includes everything that makes it crash-safe:
//! writing a temporary file, fsync of it, hard link into place, fsync of the
//! directory. So it measures the disk's sync latency more than this crate.
//!
//! `cargo bench -p contextos-store`

#![expect(clippy::expect_used, reason = "a benchmark fails loudly on broken fixtures")]

use contextos_store::Store;
use divan::{Bencher, black_box};

fn main() {
    divan::main();
}

const SIZES: [usize; 2] = [4 * 1024, 256 * 1024];

/// A fresh store in the target directory (a real disk: a tmpfs `/tmp` would
/// make every fsync free). The 256 shard directories exist already, as in a
/// store past its first few hundred objects, so a put does not also pay for
/// creating its shard.
fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("temp dir");
    let store = Store::open(&dir.path().join(".contextos")).expect("open store");
    for shard in 0..=255u8 {
        std::fs::create_dir_all(dir.path().join(".contextos/objects").join(format!("{shard:02x}"))).expect("shard");
    }
    (dir, store)
}

/// A blob of `len` bytes that differs for every `n`, so each put stores a
/// new object.
fn blob(len: usize, n: u64) -> Vec<u8> {
    let mut bytes: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
    bytes[..8].copy_from_slice(&n.to_le_bytes());
    bytes
}

/// A new object: hash, temp file, fsync, link, fsync directory.
#[divan::bench(args = SIZES)]
fn put_object_new(bencher: Bencher, len: usize) {
    let (_dir, store) = store();
    let mut n = 0u64;
    bencher
        .with_inputs(|| {
            n += 1;
            blob(len, n)
        })
        .bench_local_refs(|bytes| store.put_object(bytes).expect("put"));
}

/// The same bytes again: a no-op that re-reads and re-hashes the stored copy.
#[divan::bench(args = SIZES)]
fn put_object_existing(bencher: Bencher, len: usize) {
    let (_dir, store) = store();
    let bytes = blob(len, 0);
    store.put_object(&bytes).expect("first put");
    bencher.bench_local(|| store.put_object(black_box(&bytes)).expect("put"));
}

/// Read and re-hash.
#[divan::bench(args = SIZES)]
fn get_object(bencher: Bencher, len: usize) {
    let (_dir, store) = store();
    let digest = store.put_object(&blob(len, 0)).expect("put");
    bencher.bench_local(|| store.get_object(black_box(&digest)).expect("get"));
}
