//! The ContextOS evaluation harness.
//!
//! Owns scenario suites (YAML with a published JSON Schema), assertions and
//! graders, the parallel runner (rayon, results in a fixed order),
//! scorecards, gates, goldens, reports, promotion of stored runs into cases,
//! and policy impact and coverage over recorded corpora.
//!
//! It runs cases through the runtime; it does not decide policy, plan, or
//! reach tools itself.

#![deny(missing_docs)]

mod assertions;
mod corpus;
mod coverage;
mod gates;
mod golden;
mod impact;
mod promote;
mod promotion;
mod record;
mod report;
mod runner;
mod scenario;
mod scorecard;
mod suite;

pub use assertions::{Evidence, GradeError, check, judge_request};
pub use corpus::{Corpus, CorpusError, CorpusPacket};
pub use coverage::*;
pub use gates::*;
pub use golden::*;
pub use impact::*;
pub use promote::*;
pub use promotion::{FirstRun, PromotedCase, check_case_name, promote_packet, run_promoted_case};
pub use record::*;
pub use report::*;
pub use runner::*;
pub use scenario::*;
pub use scorecard::*;
pub use suite::*;
