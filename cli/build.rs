//! Builds the example plugins to wasm so `sockbox demo` can embed `demo.wasm`.

fn main() {
    let dir = sockbox_guest_build::build(&["sockbox-examples"]);
    println!(
        "cargo:rustc-env=SOCKBOX_DEMO_WASM={}",
        dir.join("demo.wasm").display()
    );
}
