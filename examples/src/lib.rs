//! Example sockbox guest programs; each is a bin (`src/bin/*.rs`) built to a
//! `wasm32-wasip2` command component and run with `sockbox run`.
