//! Builds the benchmark guests to wasm (release), once, cached.

fn main() {
    let dir = sockbox_guest_build::build(&["sockbox-bench-guests"]);
    println!("cargo:rustc-env=SOCKBOX_BENCH_GUESTS={}", dir.display());
}
