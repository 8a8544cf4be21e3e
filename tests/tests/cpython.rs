//! CPython's own `Lib/test/test_socket.py` (the machine's, never this repository's), its
//! classes that start no threads, run natively and in a Python plugin on both hosts; every
//! test that passes natively must pass in the plugin, unless `tests/python/cpython_expected.txt`
//! lists it with the reason.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sockbox_host::{Policy, SocketCtx};
use sockbox_tests::{Host, async_runner, current_host, python, runner};
use wasmtime::component::Component;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{FsPerms, WasiCtx};

/// The newest CPython on this machine with its test suite: (interpreter, `lib/python3.X`).
/// pyenv's versions and the system's (`/usr/lib/python3.X/test`, Debian's
/// `libpython3.X-testsuite`).
fn cpython_with_tests() -> Option<(PathBuf, PathBuf)> {
    let mut found = Vec::new();
    let pyenv = std::env::var_os("PYENV_ROOT")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".pyenv")));
    if let Some(versions) = pyenv.map(|p| p.join("versions"))
        && let Ok(entries) = std::fs::read_dir(versions)
    {
        for e in entries.flatten() {
            for minor in 11..20 {
                let lib = e.path().join(format!("lib/python3.{minor}"));
                let exe = e.path().join(format!("bin/python3.{minor}"));
                found.push((minor, exe, lib));
            }
        }
    }
    for minor in 11..20 {
        let exe = PathBuf::from(format!("/usr/bin/python3.{minor}"));
        found.push((
            minor,
            exe,
            PathBuf::from(format!("/usr/lib/python3.{minor}")),
        ));
    }
    found
        .into_iter()
        .filter(|(_, exe, lib)| exe.exists() && lib.join("test/test_socket.py").exists())
        .max_by_key(|(minor, _, _)| *minor)
        .map(|(_, exe, lib)| (exe, lib))
}

/// A copy of what the tests import from the `test` package: `test/__init__.py`,
/// `test/support/`, `test/test_socket.py`.
fn copy_tests(lib: &Path, into: &Path) {
    fn copy_dir(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap().flatten() {
            let (src, dst) = (e.path(), to.join(e.file_name()));
            if src.is_dir() {
                if e.file_name() != "__pycache__" {
                    copy_dir(&src, &dst);
                }
            } else {
                std::fs::copy(&src, &dst).unwrap();
            }
        }
    }
    let test = into.join("test");
    std::fs::create_dir_all(&test).unwrap();
    for file in ["__init__.py", "test_socket.py"] {
        std::fs::copy(lib.join("test").join(file), test.join(file)).unwrap();
    }
    copy_dir(&lib.join("test/support"), &test.join("support"));
}

/// `ID: outcome [detail]` lines as a map of ID to (outcome, detail).
fn outcomes(text: &str) -> BTreeMap<String, (String, String)> {
    text.lines()
        .filter_map(|l| {
            let (id, rest) = l.split_once(": ")?;
            let (outcome, detail) = rest.split_once(' ').unwrap_or((rest, ""));
            Some((id.to_string(), (outcome.to_string(), detail.to_string())))
        })
        .collect()
}

/// The plugin's run: stdout (the outcomes), stderr.
fn run_plugin(component: &Component, tests: &Path, tmp: &Path) -> (i32, String, String) {
    let stdout = MemoryOutputPipe::new(4 << 20);
    let stderr = MemoryOutputPipe::new(4 << 20);
    let tmp_path = tmp.to_str().unwrap();
    let mut wasi = WasiCtx::builder();
    wasi.args(&["cpython_test_socket", "/cpython"])
        .env("TMPDIR", tmp_path)
        .stdout(stdout.clone())
        .stderr(stderr.clone())
        .preopened_dir(tests, "/cpython", FsPerms::ReadOnly)
        .unwrap()
        // The same path inside and out: Unix socket paths are the host's.
        .preopened_dir(tmp, tmp_path, FsPerms::ReadWrite)
        .unwrap();
    // The policy is not under test here: the plugin may use any address.
    let sockets = SocketCtx::builder()
        .policy(Policy::builder().allow_all().build())
        .build()
        .unwrap();
    let code = match current_host() {
        Host::Sync => runner().run(component, wasi.build(), sockets),
        Host::Async => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async_runner().run(component, wasi.build(), sockets)),
    }
    .expect("the plugin trapped");
    let text = |p: &MemoryOutputPipe| String::from_utf8_lossy(&p.contents()).into_owned();
    (code, text(&stdout), text(&stderr))
}

fn cpython_test_socket_passes_as_natively() {
    let Some((python3, lib)) = cpython_with_tests() else {
        println!(
            "skipped: no CPython 3.11+ with its test suite on this machine (pyenv's, or \
             Debian's libpython3.X-testsuite)"
        );
        return;
    };
    let root = python::workspace_root();
    // A copy of the suite's files per run (both hosts' runs go at once).
    let copy = tempfile::tempdir().unwrap();
    let tests = copy.path().to_path_buf();
    copy_tests(&lib, &tests);
    let runner_py = root.join("tests/python/cpython_test_socket.py");

    let tmp = tempfile::tempdir().unwrap();
    let native = std::process::Command::new(&python3)
        .arg(&runner_py)
        .arg(&tests)
        .env("TMPDIR", tmp.path())
        .output()
        .unwrap();
    let native = outcomes(&String::from_utf8_lossy(&native.stdout));
    assert!(native.len() > 100, "native run: {native:?}");

    // The standard-library modules the tests import, imported at build time.
    let preimport: Vec<String> = sockbox_cli::python::imports_of(
        "test.test_socket",
        std::slice::from_ref(&tests),
        &root.join("target/python"),
    )
    .unwrap()
    .into_iter()
    .filter(|m| m != "test" && !m.starts_with("test."))
    .collect();
    let wasm = python::build_full("tests/python", "cpython_test_socket", &[], &preimport);
    let component = Component::from_file(runner().engine(), wasm).unwrap();
    let (code, stdout, stderr) = run_plugin(&component, &tests, tmp.path());
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let guest = outcomes(&stdout);

    let expected_text =
        std::fs::read_to_string(root.join("tests/python/cpython_expected.txt")).unwrap();
    let expected: BTreeMap<&str, &str> = expected_text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.split_once(": "))
        .collect();

    let (mut same, mut listed, mut unexpected) = (0, 0, Vec::new());
    for (id, (outcome, _)) in &native {
        if outcome != "pass" {
            continue;
        }
        match guest.get(id) {
            Some((o, _)) if o == "pass" => same += 1,
            _ if expected.contains_key(id.as_str()) => listed += 1,
            other => unexpected.push(format!("{id}: native pass, plugin {other:?}")),
        }
    }
    let native_pass = native.values().filter(|(o, _)| o == "pass").count();
    println!(
        "CPython {}: {native_pass} of {} tests pass natively; in the plugin {same} of them pass, \
         {listed} are listed differences",
        python3.display(),
        native.len()
    );
    assert!(
        unexpected.is_empty(),
        "{} tests pass natively and not in the plugin:\n{}",
        unexpected.len(),
        unexpected.join("\n")
    );
}

sockbox_tests::both_hosts!(cpython_test_socket_passes_as_natively);
