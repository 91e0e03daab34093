//! The `mcp` fuzz target: its body is `contextos_fuzz`'s (crates/fuzz).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| contextos_fuzz::fuzz("mcp", data));
