//! Test support: a strict parser for the Prometheus text format and a catalogue-wide workload.
//!
//! Benches include these files through `#[path]`, so they stay free of test-only crates.

#![allow(dead_code, unreachable_pub)]

pub mod exposition;
pub mod promtool;
pub mod workload;
