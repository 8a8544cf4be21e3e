//! What the test guest programs (`src/*.rs` bins) share.

use sockbox::Error;

/// Prints an outcome as `label: ok` or `label: err <python-name> <errno-name>: <message>`, the
/// line format the host-side tests match.
pub fn report<T>(label: &str, r: Result<T, Error>) {
    match r {
        Ok(_) => println!("{label}: ok"),
        Err(e) => println!(
            "{label}: err {} {}: {e}",
            e.python_name(),
            e.errno()
                .map(|c| format!("{c:?}").trim_start_matches("Errno::").to_string())
                .unwrap_or_default()
        ),
    }
}
