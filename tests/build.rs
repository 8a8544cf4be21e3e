//! Builds the guest programs the tests run (test cases and examples) to wasm, once, cached.

fn main() {
    let dir = sockbox_guest_build::build(&["sockbox-test-guests", "sockbox-examples"]);
    println!("cargo:rustc-env=SOCKBOX_GUESTS_DIR={}", dir.display());
}
