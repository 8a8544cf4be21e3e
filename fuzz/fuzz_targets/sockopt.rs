//! Fuzz target: `sockbox_host::fuzz::sockopt` (see its documentation).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sockbox_host::fuzz::sockopt(data));
