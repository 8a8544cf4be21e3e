//! Builds the benchmark guests to wasm (release), once, cached.

fn main() {
    // The scale run serves with the chat-server example.
    let dir = sockbox_guest_build::build(&["sockbox-bench-guests", "sockbox-examples"]);
    println!("cargo:rustc-env=SOCKBOX_BENCH_GUESTS={}", dir.display());
}
