//! No host descriptor outlives the guest that had it: sockets, socket-io streams, duplicates,
//! detached and received descriptors, shared sockets — closed or left open by the guest.
//! (One test in its own binary, so no other test opens descriptors meanwhile.)

use std::io::{Read, Write};
use std::net::TcpStream;

use sockbox_host::{ShareGroup, SocketCtx};
use sockbox_tests::{
    Host, current_host, on_host, policy, preopen_listener, run_with, settled_fd_count, with_policy,
};

/// Every scenario once: guests that close, guests that leave things open, hand-offs.
fn scenarios() {
    let out = run_with(
        "unix",
        &["leave-open"],
        with_policy(policy(&[])).build().unwrap(),
    );
    out.assert_ok();
    let out = run_with("unix", &["pair"], with_policy(policy(&[])).build().unwrap());
    out.assert_ok();
    let out = run_with(
        "surface",
        &["descriptors"],
        with_policy(policy(&[])).build().unwrap(),
    );
    out.assert_ok();
    let out = run_with(
        "cases",
        &["limit"],
        with_policy(policy(&[])).max_sockets(5).build().unwrap(),
    );
    out.assert_ok();
    let out = run_with(
        "cases",
        &["bad-input"],
        with_policy(policy(&["connect *", "bind *"]))
            .build()
            .unwrap(),
    );
    out.assert_ok();

    // A shared connection, served by a second instance.
    let group = ShareGroup::new();
    let (listener, local) = preopen_listener("127.0.0.1:0");
    let client = std::thread::spawn(move || {
        let mut c = TcpStream::connect(local).unwrap();
        c.write_all(b"x").unwrap();
        let mut b = [0u8; 1];
        c.read_exact(&mut b).unwrap();
    });
    let ctx = SocketCtx::builder()
        .share_group(group.clone())
        .preopen(local.to_string(), listener)
        .build()
        .unwrap();
    let out = run_with("unix", &["share"], ctx);
    out.assert_ok();
    let token = out.line("token").to_string();
    let worker = SocketCtx::builder().share_group(group).build().unwrap();
    run_with("unix", &["fromshare", &token], worker).assert_ok();
    client.join().unwrap();
}

/// On each host in turn (one test, so no other test opens descriptors meanwhile).
#[test]
fn no_host_fd_is_left_open() {
    for host in [Host::Sync, Host::Async] {
        on_host(host, no_host_fd_is_left_open_on_this_host);
    }
}

fn no_host_fd_is_left_open_on_this_host() {
    scenarios(); // compiles the components and warms up whatever the runtime keeps
    // Descriptors others may hold are closed on the host's closer thread, a moment after
    // their guest lets go: count once the count holds still.
    let before = settled_fd_count();
    for _ in 0..20 {
        scenarios();
    }
    let after = settled_fd_count();
    assert_eq!(
        before,
        after,
        "host descriptors leaked on the {:?} host: {before} before, {after} after",
        current_host()
    );

    // A shared socket nobody takes closes when its token expires, whether or not the group
    // is used again.
    let group = ShareGroup::with_ttl(std::time::Duration::from_millis(1500));
    let (listener, local) = preopen_listener("127.0.0.1:0");
    let client = TcpStream::connect(local).unwrap();
    let ctx = SocketCtx::builder()
        .share_group(group.clone())
        .preopen(local.to_string(), listener)
        .build()
        .unwrap();
    run_with("unix", &["share"], ctx).assert_ok();
    let parked = settled_fd_count();
    std::thread::sleep(std::time::Duration::from_millis(2000));
    let expired = settled_fd_count();
    assert_eq!(
        expired,
        parked - 1,
        "the parked socket outlived its token on the {:?} host",
        current_host()
    );
    drop((group, client));
}
