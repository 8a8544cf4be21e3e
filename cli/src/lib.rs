//! The `sockbox` command's library side: what the command does that other tools (and the
//! test suite) reuse.

pub mod python;
