//! `Poller` and `select` over sockbox pollables, from a wasm guest.

use sockbox_tests::{policy, run_with, with_policy};

fn poller_and_select_follow_selectors_and_select() {
    let out = run_with("poll", &[], with_policy(policy(&[])).build().unwrap());
    out.assert_ok();
    for (label, want) in [
        ("select idle", "[] []"),
        ("select writable", "[] [\"a\"]"),
        ("select after send", "[\"a\"]"),
        ("poller readable", "[(\"a\", Interest { bits: 1 })]"),
        ("poller both", "[(\"a2\", Interest { bits: 3 })]"),
        ("unregister", "\"a2\""),
        ("empty", "true"),
        ("timeout", "0 after at least 100 ms: true"),
        ("before read", "1"),
        ("after read", "0"),
        ("dropped but registered", "[(\"c\", Interest { bits: 1 })]"),
    ] {
        assert_eq!(out.line(label), want, "{label}\n{out}");
    }
    for label in [
        "select nothing",
        "register twice",
        "register no interest",
        "unregister unknown",
        "select empty",
    ] {
        assert!(
            out.line(label).starts_with("err ValueError"),
            "{label}\n{out}"
        );
    }
}

sockbox_tests::both_hosts!(poller_and_select_follow_selectors_and_select,);
