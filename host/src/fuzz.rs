//! Entry points for the fuzz targets in `fuzz/` (cargo-fuzz): each takes arbitrary bytes and
//! must neither panic nor hang. Not part of the embedding API.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use crate::core::addr::{self, Target};
use crate::core::policy::file::PolicyFile;
use crate::core::policy::{Gate, Policy, PolicyBuilder, Use};
use crate::core::types::{Ipv4SockAddress, Ipv6SockAddress, SockAddress, UnixAddress};

/// Policy rules, one per line, the first character naming the section (`c`onnect, `b`ind,
/// `a`ccept, `l`ookup, `u`nix): the valid ones build a policy, which is then asked about
/// addresses and names taken from the same bytes. Every rule it describes parses again.
/// The whole text is also tried as a policy file.
pub fn policy_rules(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = PolicyFile::parse(&text, "fuzz.toml");
    let mut builder = Policy::builder();
    for line in text.lines() {
        let mut chars = line.chars();
        let section = chars.next().unwrap_or(' ');
        let rule = chars.as_str();
        // A rejected rule consumes its builder: try it on a fresh one first.
        if add(Policy::builder(), section, rule).is_some() {
            builder = add(builder, section, rule).expect("a rule parses the same way twice");
        }
    }
    let policy = builder.build();
    for line in policy.describe() {
        let (flag, rule) = line.split_once(' ').unwrap_or((&line, ""));
        let section = match flag {
            "--allow-connect" => 'c',
            "--allow-bind" => 'b',
            "--allow-accept" => 'a',
            "--allow-lookup" => 'l',
            "--allow-unix" => 'u',
            _ => continue,
        };
        assert!(
            add(Policy::builder(), section, rule).is_some(),
            "{line:?} does not parse again"
        );
    }
    let _ = policy.explain();
    let gate = Gate::new(policy.clone());
    let name = text.lines().next().unwrap_or_default();
    if policy.check_lookup(name).is_ok() {
        gate.pin(name, addresses(data).map(|a| a.ip()));
    }
    for a in addresses(data) {
        let guest = addr::from_std(a);
        let _ = gate.check(Use::Connect(&guest));
        let _ = gate.check(Use::Bind(&guest));
        let _ = gate.check(Use::SendTo(&guest));
        let _ = gate.allows(Use::ReceiveFrom(a));
        let _ = gate.allows(Use::AcceptFrom(a));
        let _ = gate.check(Use::ReverseLookup(a.ip()));
        let _ = gate.check(Use::MulticastJoin(a.ip()));
    }
    if let Ok(Target::Unix(u)) = addr::target(&unix_address(data)) {
        let _ = policy.check_unix(&u);
    }
}

fn add(b: PolicyBuilder, section: char, rule: &str) -> Option<PolicyBuilder> {
    match section {
        'c' => b.allow_connect(rule).ok(),
        'b' => b.allow_bind(rule).ok(),
        'a' => b.allow_accept(rule).ok(),
        'l' => b.allow_lookup(rule).ok(),
        'u' => b.allow_unix(rule).ok(),
        _ => None,
    }
}

/// Socket addresses made from successive 18-byte windows of `data`.
fn addresses(data: &[u8]) -> impl Iterator<Item = SocketAddr> + '_ {
    data.chunks(18).map(|c| {
        let mut b = [0u8; 18];
        b[..c.len()].copy_from_slice(c);
        let port = u16::from_be_bytes([b[16], b[17]]);
        let v6 = Ipv6Addr::from(<[u8; 16]>::try_from(&b[..16]).expect("16 bytes"));
        let ip = if b[0] & 1 == 0 {
            IpAddr::V6(v6)
        } else {
            IpAddr::V4([b[1], b[2], b[3], b[4]].into())
        };
        SocketAddr::new(ip, port)
    })
}

fn unix_address(data: &[u8]) -> SockAddress {
    let rest = data.get(1..).unwrap_or_default().to_vec();
    SockAddress::Unix(match data.first().map(|b| b % 3) {
        Some(0) => UnixAddress::Path(rest),
        Some(1) => UnixAddress::Abstract(rest),
        _ => UnixAddress::Unnamed,
    })
}

/// A guest address from bytes (the first picks the variant), as the host decodes it for the
/// policy and the OS.
pub fn sock_address(data: &[u8]) {
    let word = |at: usize| -> u16 {
        let b = data.get(at..at + 2).unwrap_or(&[0, 0]);
        u16::from_be_bytes([b[0], b.get(1).copied().unwrap_or(0)])
    };
    let address = match data.first().map(|b| b % 3) {
        Some(0) => SockAddress::Inet(Ipv4SockAddress {
            port: word(1),
            address: (word(3) as u8, word(4) as u8, word(5) as u8, word(6) as u8),
        }),
        Some(1) => SockAddress::Inet6(Ipv6SockAddress {
            port: word(1),
            flow_info: u32::from(word(3)) << 16 | u32::from(word(5)),
            address: (
                word(7),
                word(9),
                word(11),
                word(13),
                word(15),
                word(17),
                word(19),
                word(21),
            ),
            scope_id: u32::from(word(23)),
        }),
        _ => unix_address(data.get(1..).unwrap_or_default()),
    };
    let gates = [
        Gate::new(Policy::deny_all()),
        Gate::new(Policy::builder().allow_all().build()),
    ];
    match addr::target(&address) {
        Ok(Target::Ip(sa)) => {
            for g in &gates {
                let _ = g.check(Use::Connect(&address));
                let _ = g.check(Use::Bind(&address));
            }
            let _ = addr::from_os(&sa.into());
        }
        Ok(Target::Unix(u)) => {
            for g in &gates {
                let _ = g.check(Use::Connect(&address));
            }
            if let Ok(os) = u.to_os() {
                let _ = addr::from_os(&os);
            }
        }
        Err(_) => {}
    }
}

/// A raw `setsockopt`: a level and a name (4 bytes each) and the value bytes. What decodes
/// encodes back to bytes that decode to the same option.
pub fn sockopt(data: &[u8]) {
    let int = |at: usize| -> i32 {
        let mut b = [0u8; 4];
        for (i, x) in data.iter().skip(at).take(4).enumerate() {
            b[i] = *x;
        }
        i32::from_ne_bytes(b)
    };
    // Small numbers reach the listed options far more often than random words would.
    let (level, name) = (int(0) % 300, int(4) % 100);
    let value = data.get(8..).unwrap_or_default();
    let Ok(first) = crate::core::ops::sockopt::decode(level, name, value) else {
        return;
    };
    let bytes = crate::core::ops::sockopt::encode(&first);
    if bytes.is_empty() {
        return; // write-only options have no read-back form
    }
    let again =
        crate::core::ops::sockopt::decode(level, name, &bytes).expect("encoded bytes decode");
    assert_eq!(format!("{first:?}"), format!("{again:?}"));
}

#[cfg(test)]
mod tests {
    /// Each entry point on a few thousand pseudo-random inputs and some hand-picked ones: the
    /// seed corpus the fuzz targets start from, run by every `cargo test`.
    #[test]
    fn fuzz_entry_points_hold_on_a_seed_corpus() {
        let mut seeds: Vec<Vec<u8>> = [
            &b"c127.0.0.1:80\nb[::1]:0-9\nlexample.com\nu/tmp/x/*\nu@a*\nc*.svc:1-2\na10.0.0.0/8"[..],
            b"connect = [\"1.2.3.4\"]\n[limits]\nmax_sockets = 3\n",
            b"c[::ffff:1.2.3.4/120]:*\nc*:0\nl*\nl::/0",
            &[1, 0, 6, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0],
            &[0, 0, 0, 0, 13, 0, 0, 0, 1, 0, 0, 0, 5, 0, 0, 0],
        ]
        .iter()
        .map(|s| s.to_vec())
        .collect();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for len in 0..3000 {
            let mut v = Vec::with_capacity(len % 97);
            for _ in 0..len % 97 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                v.push(x as u8);
            }
            seeds.push(v);
        }
        for s in &seeds {
            super::policy_rules(s);
            super::sock_address(s);
            super::sockopt(s);
        }
    }
}
