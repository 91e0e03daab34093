//! The bodies of the fuzz targets: every parser of untrusted input fed
//! arbitrary bytes. Each target is a plain function over `&[u8]` (see
//! [`TARGETS`]), so the same code runs under cargo-fuzz (`fuzz/`, coverage
//! guided, outside the workspace) and as an ordinary test over the seed
//! corpus and the regression inputs (`tests/corpus.rs`, in CI).
//!
//! A body returns `Err` only when its own setup fails (the shipped keys or
//! policies do not load); bad input is the parsers' business and must come
//! back as their error, rendered as the CLI renders it. A panic anywhere is
//! a bug the fuzzer found.
//!
//! The seed corpus is described by `fuzz/seeds.txt` ([`seeds`]): the files
//! of each kind the repository ships, fed to a target with its selector byte.
//!
//! This crate is test support: nothing depends on it.
#![deny(missing_docs)]

mod fixtures;
mod seeds;
mod targets;

pub use seeds::{Seed, SeedError, regressions, seeds};
pub use targets::{TARGETS, Target, fuzz};
