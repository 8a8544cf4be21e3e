//! The `sockbox` command, run as a user would.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

fn sockbox() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sockbox"))
}

/// A native server on 127.0.0.1 that reads each connection to its end and sends it all back
/// (what `echo-client` expects); its port.
fn whole_message_echo_server() -> u16 {
    let server = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = server.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut conn in server.incoming().flatten() {
            let mut buf = Vec::new();
            let _ = conn.read_to_end(&mut buf);
            let _ = conn.write_all(&buf);
        }
    });
    port
}

/// An example plugin built beside the demo by the build script.
fn example(name: &str) -> PathBuf {
    PathBuf::from(env!("SOCKBOX_DEMO_WASM")).with_file_name(format!("{name}.wasm"))
}

/// `sockbox demo` runs the built-in plugin end to end and prints the transcript.
#[test]
fn demo_prints_transcript() {
    let out = sockbox().arg("demo").output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for expected in [
        "guest: getaddrinfo(\"localhost\",",
        "guest: echo server replied \"hello from a wasm guest\"",
        "guest: connect to 192.0.2.1:80 -> PermissionError(",
        "allow it with --allow-connect 192.0.2.1:80",
        "host:  native client got back \"HELLO PLUGIN, FROM A NATIVE CLIENT\"",
        "host:  plugin exited with 0",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in:\n{stdout}"
        );
    }
}

/// `sockbox run --listen` hands the echo-server example a listener native clients reach.
#[test]
fn run_with_listen_serves_native_clients() {
    let (child, line, _stderr) = echo_server_on("127.0.0.1:0");
    let addr = line
        .trim()
        .strip_prefix("sockbox: listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    let mut c = TcpStream::connect(&addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c.write_all(b"through the sockbox command").unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    let mut back = String::new();
    c.read_to_string(&mut back).unwrap();
    drop(child);
    assert_eq!(back, "through the sockbox command");
}

/// `sockbox run --listen LISTEN echo-server.wasm`, the first line it prints, and its stderr,
/// which must stay open while it runs (it writes there).
fn echo_server_on(listen: &str) -> (KillOnDrop, String, BufReader<std::process::ChildStderr>) {
    let mut child = KillOnDrop(
        sockbox()
            .args(["run", "--listen", listen])
            .arg(example("echo-server"))
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut stderr = BufReader::new(child.0.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    (child, line, stderr)
}

/// Kills the child process however the test ends.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `sockbox run` enforces the policy flags: the client example is refused without
/// --allow-connect, with a message naming the flag, and works with it.
#[test]
fn run_enforces_policy_flags() {
    let port = whole_message_echo_server();
    let client = example("echo-client");
    let denied = sockbox()
        .args(["run"])
        .arg(&client)
        .args(["127.0.0.1", &port.to_string(), "hello"])
        .output()
        .unwrap();
    assert!(!denied.status.success());
    let stderr = String::from_utf8_lossy(&denied.stderr);
    assert!(
        stderr.contains(&format!("--allow-connect 127.0.0.1:{port}")),
        "{stderr}"
    );

    let allowed = sockbox()
        .args(["run", "--allow-connect", &format!("127.0.0.1:{port}")])
        .arg(&client)
        .args(["127.0.0.1", &port.to_string(), "hello"])
        .output()
        .unwrap();
    assert!(
        allowed.status.success(),
        "{}",
        String::from_utf8_lossy(&allowed.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&allowed.stdout), "hello\n");
}

/// A malformed rule is a usage error, not a run.
#[test]
fn run_rejects_malformed_rules() {
    let stderr = refused(&["run", "--allow-connect", "10.0.0.0/33"]);
    assert!(
        stderr.contains("invalid policy rule \"10.0.0.0/33\""),
        "{stderr}"
    );
}

/// `sockbox ARGS echo-client.wasm`, which must fail before the guest runs: its stderr.
fn refused(args: &[&str]) -> String {
    let out = sockbox()
        .args(args)
        .arg(example("echo-client"))
        .output()
        .unwrap();
    assert!(!out.status.success(), "{args:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A Unix rule inside a directory the guest may write is refused before the guest starts: the
/// guest could link or rename a socket from a path no rule allows into one the rule allows.
#[test]
fn run_refuses_unix_rules_in_writable_dirs() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    for rule in [
        format!("{d}/sockets/*"),
        format!("{d}/app.sock"),
        "/".to_string() + "*",
    ] {
        let stderr = refused(&[
            "run",
            "--allow-unix",
            &rule,
            "--dir",
            &format!("{d}::/data"),
        ]);
        assert!(
            stderr.contains("where Unix rules apply"),
            "{rule}: {stderr}"
        );
    }
}

/// `sockbox run --listen unix:PATH` hands the guest a Unix-domain listener.
#[test]
fn run_with_unix_listen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("echo.sock");
    let (child, line, _stderr) = echo_server_on(&format!("unix:{}", path.display()));
    assert_eq!(
        line.trim(),
        format!("sockbox: listening on unix:{}", path.display())
    );
    let mut c = std::os::unix::net::UnixStream::connect(&path).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c.write_all(b"over a unix listener").unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    let mut back = String::new();
    c.read_to_string(&mut back).unwrap();
    drop(child);
    assert_eq!(back, "over a unix listener");
}

/// `sockbox policy check FILE` prints each rule in words and every limit; a bad line is an
/// error naming the file and line.
#[test]
fn policy_check_explains_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.toml");
    std::fs::write(
        &file,
        "connect = [\"127.0.0.1:5432\", \"db.internal:5432\"]\nbind = [\"127.0.0.1:0\"]\n\
         accept = [\"10.0.0.0/8\"]\nlookup = [\"*.svc\"]\nunix = [\"@app-*\"]\nfd_passing = true\n\
         [limits]\nmax_sockets = 8\n",
    )
    .unwrap();
    let out = sockbox()
        .args(["policy", "check"])
        .arg(&file)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    for line in [
        "7 rule(s)",
        "connect = \"127.0.0.1:5432\": connect, sendto, and datagrams from 127.0.0.1, port 5432",
        "connect = \"db.internal:5432\": connect, sendto, and datagrams from what db.internal resolves to (pinned per instance), port 5432",
        "bind = \"127.0.0.1:0\": bind to 127.0.0.1, port 0",
        "accept = \"10.0.0.0/8\": accept connections from addresses in 10.0.0.0/8, any port",
        "lookup = \"*.svc\": lookups of names under .svc",
        "unix = \"@app-*\": bind, connect, sendto on abstract names @app-*",
        "fd_passing = true: send_fds and recv_fds",
        "max_sockets = 8\n",
        "max_read = 1048576 (default)",
        "max_backlog = 128 (default)",
        "everything else is denied",
    ] {
        assert!(stdout.contains(line), "missing {line:?} in:\n{stdout}");
    }
    std::fs::write(
        &file,
        "bind = [\"127.0.0.1:0\"]\nconnect = [\n  \"1.2.3.4:99999\",\n]\n",
    )
    .unwrap();
    let out = sockbox()
        .args(["policy", "check"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "{}:3: invalid policy rule \"1.2.3.4:99999\"",
            file.display()
        )),
        "{stderr}"
    );
}

/// `sockbox run --policy FILE`: the file's rules allow, and a denial names the line to add to
/// the file. A host-name rule works through the name's lookup (DNS pinning).
#[test]
fn run_with_a_policy_file() {
    let port = whole_message_echo_server();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.toml");
    std::fs::write(&file, format!("connect = [\"localhost:{port}\"]\n")).unwrap();
    let run = |host: &str| {
        sockbox()
            .arg("run")
            .arg("--policy")
            .arg(&file)
            .arg(example("echo-client"))
            .args([host, &port.to_string(), "pinned"])
            .output()
            .unwrap()
    };
    let allowed = run("localhost");
    assert!(
        allowed.status.success(),
        "{}",
        String::from_utf8_lossy(&allowed.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&allowed.stdout), "pinned\n");
    // The address itself, never resolved in this instance, is not allowed by the name rule.
    let denied = run("127.0.0.1");
    assert!(!denied.status.success());
    let stderr = String::from_utf8_lossy(&denied.stderr);
    assert!(
        stderr.contains(&format!(
            "connect = [\"127.0.0.1:{port}\"] in {}",
            file.display()
        )),
        "{stderr}"
    );
}

/// `sockbox run --time-limit` stops a guest blocked in a socket call, with status 124.
#[test]
fn run_with_a_time_limit() {
    let server = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = server.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in server.incoming().flatten() {
            held.push(conn);
        }
    });
    let start = std::time::Instant::now();
    let out = sockbox()
        .args(["run", "--time-limit", "0.5"])
        .args(["--allow-connect", &format!("127.0.0.1:{port}")])
        .arg(example("echo-client"))
        .args(["127.0.0.1", &port.to_string(), "never answered"])
        .output()
        .unwrap();
    let took = start.elapsed();
    assert_eq!(
        out.status.code(),
        Some(124),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--time-limit ran out"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(took < Duration::from_secs(20), "{took:?}");
}

/// SIGTERM (and SIGINT) interrupt the guest instead of killing it: echo-server's blocked
/// accept fails with ECANCELED, it says so and returns, and sockbox exits with 128 + the
/// signal, well inside the grace period.
#[test]
fn a_signal_stops_the_guest_cleanly() {
    for (signal, status) in [("-TERM", 143), ("-INT", 130)] {
        let (mut child, line, mut stderr) = echo_server_on("127.0.0.1:0");
        assert!(line.starts_with("sockbox: listening on"), "{line}");
        let mut serving = String::new();
        stderr.read_line(&mut serving).unwrap();
        assert!(serving.contains("serving on"), "{serving}");
        let start = std::time::Instant::now();
        let killed = Command::new("kill")
            .arg(signal)
            .arg(child.0.id().to_string())
            .status()
            .unwrap();
        assert!(killed.success());
        let code = child.0.wait().unwrap();
        let took = start.elapsed();
        let mut rest = String::new();
        stderr.read_to_string(&mut rest).unwrap();
        assert_eq!(code.code(), Some(status), "{rest}");
        assert!(rest.contains("interrupted by the host, exiting"), "{rest}");
        assert!(took < Duration::from_secs(3), "{took:?}: {rest}");
    }
}

/// `sockbox run` keeps compiled components in its cache (here under `XDG_CACHE_HOME`): the
/// first run of a component fills it; another run of the same component finds it there and
/// adds nothing.
#[test]
fn compiled_code_is_cached() {
    /// The compiled entries (not the cache worker's statistics and housekeeping files).
    fn files(dir: &std::path::Path) -> usize {
        std::fs::read_dir(dir).map_or(0, |entries| {
            entries
                .flatten()
                .map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    if e.path().is_dir() {
                        files(&e.path())
                    } else {
                        usize::from(!name.starts_with('.') && !name.ends_with(".stats"))
                    }
                })
                .sum()
        })
    }
    let cache = tempfile::tempdir().unwrap();
    let run = || {
        // Without --listen it stops at once (status 1), after compiling.
        sockbox()
            .env("XDG_CACHE_HOME", cache.path())
            .arg("run")
            .arg(example("echo-server"))
            .output()
            .unwrap()
    };
    assert_eq!(files(cache.path()), 0);
    let first = run();
    assert_eq!(first.status.code(), Some(1), "{first:?}");
    let cached = files(cache.path());
    assert!(cached > 0, "nothing cached: {first:?}");
    let second = run();
    assert_eq!(second.status.code(), Some(1), "{second:?}");
    assert_eq!(files(cache.path()), cached);
}

/// The echo-server example serves on after a client resets its connection.
#[test]
fn echo_server_survives_a_reset() {
    let (child, line, _stderr) = echo_server_on("127.0.0.1:0");
    let addr = line
        .trim()
        .strip_prefix("sockbox: listening on ")
        .unwrap()
        .to_string();
    // A client that sends and resets (SO_LINGER 0) before reading its echo.
    let rude = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    rude.connect(&addr.parse::<std::net::SocketAddr>().unwrap().into())
        .unwrap();
    rude.set_linger(Some(Duration::ZERO)).unwrap();
    let mut rude = TcpStream::from(rude);
    rude.write_all(&[7u8; 100_000]).unwrap();
    drop(rude);
    std::thread::sleep(Duration::from_millis(200));
    let mut c = TcpStream::connect(&addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c.write_all(b"still serving").unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    let mut back = String::new();
    c.read_to_string(&mut back).unwrap();
    drop(child);
    assert_eq!(back, "still serving");
}

/// `sockbox python build APP.py [ARGS]` beside it, with the test suite's cache
/// (componentize-py is installed once): the component and what the build printed.
fn python_build(app: &std::path::Path, args: &[&std::path::Path]) -> (PathBuf, String) {
    let wasm = app.with_extension("wasm");
    let cache = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/python");
    let built = sockbox()
        .args(["python", "build"])
        .arg(app)
        .args(args)
        .arg("-o")
        .arg(&wasm)
        .arg("--cache")
        .arg(&cache)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&built.stderr).into_owned();
    assert!(built.status.success(), "{stderr}");
    (wasm, stderr)
}

/// What `sockbox run PLUGIN` printed, with its cache under `cache_home`; it must succeed.
fn run_plugin(wasm: &std::path::Path, cache_home: &std::path::Path) -> String {
    let ran = sockbox()
        .env("XDG_CACHE_HOME", cache_home)
        .arg("run")
        .arg(wasm)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&ran.stdout).into_owned();
    assert!(
        ran.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&ran.stderr)
    );
    stdout
}

/// `sockbox python build` makes a plugin from one file whose code imports modules only inside
/// functions (a standard-library module, a local module that itself imports one lazily, a
/// relative import in a local package): every one is there at run time, with no import
/// line written for the build. The cache is the test suite's, so componentize-py is
/// installed once.
#[test]
fn python_build_brings_lazily_imported_modules() {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("lazy_app.py");
    std::fs::write(
        &app,
        "import sockbox\nimport sys\n\n\
         def main():\n    \
             import secrets\n    \
             import lazy_helper\n    \
             from lazy_pkg import run\n    \
             print('token', len(secrets.token_hex(4)))\n    \
             print('netrc', lazy_helper.netrc_class())\n    \
             print('pkg', run())\n\n\
         Run = sockbox.command(main)\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("lazy_helper.py"),
        "def netrc_class():\n    from netrc import netrc\n    return netrc.__name__\n",
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("lazy_pkg")).unwrap();
    std::fs::write(
        dir.path().join("lazy_pkg/__init__.py"),
        "def run():\n    from . import inner\n    return inner.value()\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("lazy_pkg/inner.py"),
        "def value():\n    import fractions\n    return str(fractions.Fraction(1, 3))\n",
    )
    .unwrap();
    let (wasm, stderr) = python_build(&app, &[]);
    for module in [
        "secrets",
        "lazy_helper",
        "netrc",
        "lazy_pkg.inner",
        "fractions",
    ] {
        assert!(
            stderr.contains(&format!(" {module} ")) || stderr.contains(&format!(" {module}\n")),
            "{module} not listed: {stderr}"
        );
    }
    let stdout = run_plugin(&wasm, dir.path());
    assert_eq!(stdout, "token 8\nnetrc netrc\npkg 1/3\n");
}

/// A plugin built with a requirement whose package reads a data file by path (certifi's CA
/// bundle) and its metadata at run time: `sockbox python build` carries the files and `sockbox
/// run` mounts them read-only where the package looks.
#[test]
fn python_plugins_carry_package_data() {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("data_app.py");
    std::fs::write(
        &app,
        "import sockbox
import certifi
import importlib.metadata

\
         def main():\n    \
             pem = open(certifi.where()).read()\n    \
             print('bundle', pem.count('BEGIN CERTIFICATE') > 100)\n    \
             print('version', importlib.metadata.version('certifi'))\n    \
             try:\n        \
                 open(certifi.where(), 'a')\n    \
             except OSError as e:\n        \
                 print('write', type(e).__name__)\n\n\
         Run = sockbox.command(main)\n",
    )
    .unwrap();
    let requirements = dir.path().join("requirements.txt");
    std::fs::write(&requirements, "certifi==2025.8.3\n").unwrap();
    let (wasm, _) = python_build(&app, &["-r".as_ref(), &requirements]);
    let stdout = run_plugin(&wasm, dir.path());
    assert_eq!(
        stdout,
        "bundle True\nversion 2025.8.3\nwrite PermissionError\n"
    );
}

/// `sockbox run --listen ADDR` hands an unmodified std::net server the host's listener when it
/// binds ADDR: no `--allow-bind`, and a native client is served.
#[test]
fn listen_serves_an_unmodified_wasi_program() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let mut server = sockbox()
        .args(["run", "--listen", &addr])
        .arg(example("std-http-server"))
        .args([&addr, "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(server.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    assert_eq!(first, format!("listening on {addr}"));
    let mut native = TcpStream::connect(&addr).unwrap();
    native
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    native
        .write_all(b"GET /handed HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut reply = String::new();
    native.read_to_string(&mut reply).unwrap();
    assert!(reply.contains("request 1 for /handed"), "{reply}");
    assert!(server.wait().unwrap().success());
}

/// `--tls-system-roots` trusts the system's store: with `SSL_CERT_FILE` naming a test CA,
/// `http-get --tls` verifies a native `openssl s_server` whose certificate that CA signed;
/// without the flag the same run is refused (Mozilla's roots do not vouch for it).
#[test]
fn system_roots_are_trusted_when_asked() {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
    let dir = tempfile::tempdir().unwrap();
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "sockbox cli CA");
    let ca = ca.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&key, &ca, &ca_key)
        .unwrap();
    let file = |name: &str, text: String| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let (ca_file, cert, key) = (
        file("ca.pem", ca.pem()),
        file("cert.pem", leaf.pem()),
        file("key.pem", key.serialize_pem()),
    );
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = Command::new("openssl")
        .args(["s_server", "-quiet", "-www", "-accept"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("-cert")
        .arg(&cert)
        .arg("-key")
        .arg(&key)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl");
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        std::thread::sleep(Duration::from_millis(20));
    }
    let run = |system: bool| {
        let mut cmd = sockbox();
        cmd.env("SSL_CERT_FILE", &ca_file).arg("run");
        if system {
            cmd.arg("--tls-system-roots");
        }
        cmd.args(["--allow-lookup", "localhost"])
            .arg(format!("--allow-connect=localhost:{port}"))
            .arg(example("http-get"))
            .args(["--tls", "localhost", &port.to_string(), "/"])
            .output()
            .unwrap()
    };
    let (trusted, refused) = (run(true), run(false));
    let _ = server.kill();
    let _ = server.wait();
    assert!(trusted.status.success(), "{trusted:?}");
    assert!(
        String::from_utf8_lossy(&trusted.stdout).contains("s_server"),
        "{trusted:?}"
    );
    let why = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "{refused:?}");
    assert!(
        why.contains("unable to get local issuer certificate"),
        "{why}"
    );
}

/// `sockbox compile` writes a precompiled file that `sockbox run` maps and runs under the same
/// policy; a precompiled file with --time-limit, and a damaged one, are refused with a message.
#[test]
fn precompiled_components_run() {
    let dir = tempfile::tempdir().unwrap();
    let cwasm = dir.path().join("echo-client.cwasm");
    let compiled = sockbox()
        .arg("compile")
        .arg(example("echo-client"))
        .arg("-o")
        .arg(&cwasm)
        .output()
        .unwrap();
    assert!(compiled.status.success(), "{compiled:?}");
    let port = whole_message_echo_server().to_string();
    let run = |extra: &[&str], file: &std::path::Path| {
        sockbox()
            .arg("run")
            .arg(format!("--allow-connect=127.0.0.1:{port}"))
            .args(extra)
            .arg(file)
            .args(["127.0.0.1", &port, "precompiled hello"])
            .output()
            .unwrap()
    };
    let ran = run(&[], &cwasm);
    assert!(ran.status.success(), "{ran:?}");
    assert_eq!(String::from_utf8_lossy(&ran.stdout), "precompiled hello\n");

    let limited = run(&["--time-limit", "5"], &cwasm);
    assert_eq!(limited.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&limited.stderr).contains("precompiled for runs without"),
        "{limited:?}"
    );

    let mut damaged = std::fs::read(&cwasm).unwrap();
    damaged.truncate(damaged.len() / 2);
    let bad = dir.path().join("damaged.cwasm");
    std::fs::write(&bad, damaged).unwrap();
    let refused = run(&[], &bad);
    assert_eq!(refused.status.code(), Some(1), "{refused:?}");
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("loading"),
        "{refused:?}"
    );
}

/// A guest that does not stop on its own (it sleeps on a wasi clock, which the interrupt does
/// not wake) is stopped when the grace period runs out, or at once at a second signal; the
/// exit status is 128 + the signal that stopped it.
#[test]
fn a_guest_that_ignores_the_signal_is_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("sleeper.py");
    std::fs::write(
        &app,
        "import sockbox\nimport time\n\n\
         def main():\n    print('sleeping', flush=True)\n    time.sleep(120)\n\n\
         Run = sockbox.command(main)\n",
    )
    .unwrap();
    let (wasm, _) = python_build(&app, &[]);
    // (grace, signals sent, exit status, the least and most the stop may take)
    for (grace, signals, status, least, most) in [
        ("1", &["-TERM"][..], 143, 0.9, 10.0),
        ("60", &["-TERM", "-INT"][..], 130, 0.0, 10.0),
    ] {
        let mut child = KillOnDrop(
            sockbox()
                .env("XDG_CACHE_HOME", dir.path())
                .args(["run", "--grace", grace])
                .arg(&wasm)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        );
        let mut line = String::new();
        BufReader::new(child.0.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line, "sleeping\n");
        let start = std::time::Instant::now();
        for (i, signal) in signals.iter().enumerate() {
            if i > 0 {
                std::thread::sleep(Duration::from_millis(300));
            }
            let sent = Command::new("kill")
                .arg(signal)
                .arg(child.0.id().to_string())
                .status()
                .unwrap();
            assert!(sent.success());
        }
        let code = child.0.wait().unwrap();
        let took = start.elapsed().as_secs_f64();
        let mut stderr = String::new();
        child
            .0
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        assert_eq!(code.code(), Some(status), "{stderr}");
        assert!(stderr.contains("stopping the guest"), "{stderr}");
        assert!(
            (least..most).contains(&took),
            "grace {grace}: stopped after {took} s"
        );
    }
}

/// The TLS flags (and a policy file's `[tls]`) refuse what they cannot use, naming it: a
/// credential without its files, PEM without a certificate, a CA file that is not there.
#[test]
fn run_rejects_bad_tls_flags() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "not a certificate").unwrap();
    let junk = junk.to_str().unwrap();
    let policy = dir.path().join("p.toml");
    std::fs::write(&policy, "[tls]\nca = [\"junk.pem\"]\n").unwrap();
    let policy = policy.to_str().unwrap().to_string();
    for (flag, value, says) in [
        (
            "--tls-credential",
            "site".to_string(),
            "NAME=CERT.pem,KEY.pem",
        ),
        (
            "--tls-credential",
            format!("site={junk},{junk}"),
            "no certificate",
        ),
        ("--tls-ca", junk.to_string(), "no certificate"),
        ("--tls-ca", "/no/such/ca.pem".to_string(), "/no/such/ca.pem"),
        // A policy file's [tls] names its files relative to itself.
        ("--policy", policy, "junk.pem (--tls-ca, [tls] ca)"),
    ] {
        let out = sockbox()
            .args(["run", flag, &value])
            .arg(example("echo-server"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(says), "{flag} {value}: {stderr}");
    }
}

/// Plain std::net programs (no sockbox in them) under `sockbox run`: their wasi:sockets calls
/// pass the policy flags. The server serves a native client and the std client; the client is
/// refused an address no flag allows.
#[test]
fn std_net_programs_run_under_the_policy() {
    let mut server = sockbox()
        .args(["run", "--allow-bind", "127.0.0.1:0", "--wasi-tcp-nodelay"])
        .arg(example("std-http-server"))
        .args(["127.0.0.1:0", "2"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(server.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let addr = first
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
        .to_string();
    let port = addr.rsplit_once(':').unwrap().1.to_string();

    let mut native = TcpStream::connect(&addr).unwrap();
    native
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    native
        .write_all(b"GET /native HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut reply = String::new();
    native.read_to_string(&mut reply).unwrap();
    assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
    assert!(
        reply.contains("request 1 for /native from 127.0.0.1:"),
        "{reply}"
    );

    let url = format!("http://127.0.0.1:{port}/from-std");
    let client = sockbox()
        .args(["run", "--allow-connect", &format!("127.0.0.1:{port}")])
        .arg(example("std-http-get"))
        .arg(&url)
        .output()
        .unwrap();
    let body = String::from_utf8_lossy(&client.stdout);
    assert!(
        client.status.success() && body.contains("request 2 for /from-std"),
        "{body}\n{}",
        String::from_utf8_lossy(&client.stderr)
    );
    assert!(server.wait().unwrap().success());

    let denied = sockbox()
        .args(["run", "--allow-connect", "127.0.0.1:1"])
        .arg(example("std-http-get"))
        .arg(&url)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&denied.stderr);
    assert!(
        !denied.status.success() && stderr.contains("PermissionDenied"),
        "{stderr}"
    );
}
