//! Policy files: a [`Policy`] and an instance's [`Limits`] in TOML.
//!
//! ```toml
//! connect = ["127.0.0.1:5432", "api.example.com:443"]
//! bind = ["127.0.0.1:0"]
//! lookup = ["*.internal"]
//! accept = ["127.0.0.0/8"]
//! unix = ["/run/app/*", "@app-*"]
//! fd_passing = true
//!
//! [limits]
//! max_sockets = 64
//! max_read = 65536
//! max_backlog = 32
//! max_fds_per_call = 4
//! max_pending_lookups = 2
//!
//! [tls]
//! ca = ["internal-ca.pem"]          # trusted besides Mozilla's roots
//! system_roots = false              # the system's store trusted too
//! min_version = "1.2"               # or "1.3"
//! allow_unverified = false
//! credentials.site = { cert = "site.pem", key = "site.key" }   # the key stays in the host
//! ```
//!
//! Every key is optional; a missing rule list allows nothing and a missing limit keeps its
//! default. Unknown keys are errors, so a misspelt rule cannot silently allow less (or more)
//! than its author meant. Rules use the syntax of the `--allow-*` flags (see [`crate::core::policy`]).
//! The `[tls]` files are named relative to the policy file's directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::core::limits::Limits;
use crate::core::policy::{Policy, PolicyBuilder, RuleError};

/// A parsed policy file.
#[derive(Debug)]
pub struct PolicyFile {
    /// Its rules; denials name the file and the line that would allow what they refuse.
    pub policy: Policy,
    /// Its `[limits]`, with the defaults for those it leaves out.
    pub limits: Limits,
    /// Its `[tls]` table (files named, not read: `SocketCtxBuilder` reads them).
    pub tls: TlsFile,
}

/// A policy file's `[tls]` table: what `sockbox run`'s `--tls-ca`, `--tls-credential` and
/// `--tls-allow-unverified` set.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TlsFile {
    /// PEM files of trust roots besides Mozilla's.
    pub ca: Vec<PathBuf>,
    /// Named server credentials: name, certificate chain (PEM), private key (PEM).
    pub credentials: Vec<(String, PathBuf, PathBuf)>,
    /// Whether the guest may make TLS connections that verify no certificate.
    pub allow_unverified: bool,
    /// Whether the system's certificate store is trusted too.
    pub system_roots: bool,
    /// The oldest TLS version guests may speak (`"1.2"` or `"1.3"`).
    pub min_version: Option<crate::TlsVersion>,
}

/// A policy file that cannot be read or does not parse, with the line at fault.
#[derive(Debug, thiserror::Error)]
#[error("{file}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct PolicyFileError {
    file: String,
    line: Option<usize>,
    message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(default)]
    connect: Vec<Spanned<String>>,
    #[serde(default)]
    bind: Vec<Spanned<String>>,
    #[serde(default)]
    accept: Vec<Spanned<String>>,
    #[serde(default)]
    lookup: Vec<Spanned<String>>,
    #[serde(default)]
    unix: Vec<Spanned<String>>,
    #[serde(default)]
    fd_passing: bool,
    #[serde(default)]
    limits: RawLimits,
    #[serde(default)]
    tls: RawTls,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawTls {
    #[serde(default)]
    ca: Vec<String>,
    #[serde(default)]
    allow_unverified: bool,
    #[serde(default)]
    system_roots: bool,
    #[serde(default)]
    min_version: Option<Spanned<String>>,
    #[serde(default)]
    credentials: BTreeMap<String, RawCredential>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCredential {
    cert: String,
    key: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    max_sockets: Option<usize>,
    max_read: Option<usize>,
    max_backlog: Option<u32>,
    max_fds_per_call: Option<usize>,
    max_pending_lookups: Option<usize>,
    max_parked: Option<usize>,
}

type Allow = fn(PolicyBuilder, &str) -> Result<PolicyBuilder, RuleError>;

impl PolicyFile {
    /// Reads and parses the policy file at `path`.
    ///
    /// # Errors
    /// When the file cannot be read, is not TOML, has an unknown key, or holds a malformed rule.
    pub fn load(path: &Path) -> Result<PolicyFile, PolicyFileError> {
        Self::load_onto(Policy::builder(), path)
    }

    /// Reads the policy file at `path` and parses it on top of the rules in `builder`.
    ///
    /// # Errors
    /// As [`load`](Self::load).
    pub fn load_onto(builder: PolicyBuilder, path: &Path) -> Result<PolicyFile, PolicyFileError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| PolicyFileError {
            file: name.clone(),
            line: None,
            message: e.to_string(),
        })?;
        Self::parse_in(builder, &text, &name, path.parent())
    }

    /// Parses policy-file `text`; `name` is what denials and errors call the file.
    ///
    /// # Errors
    /// When `text` is not TOML, has an unknown key, or holds a malformed rule.
    pub fn parse(text: &str, name: &str) -> Result<PolicyFile, PolicyFileError> {
        Self::parse_onto(Policy::builder(), text, name)
    }

    /// Parses policy-file `text` on top of the rules already in `builder` (the `sockbox run`
    /// flags, say).
    ///
    /// # Errors
    /// As [`parse`](Self::parse).
    pub fn parse_onto(
        builder: PolicyBuilder,
        text: &str,
        name: &str,
    ) -> Result<PolicyFile, PolicyFileError> {
        Self::parse_in(builder, text, name, None)
    }

    /// [`parse_onto`](Self::parse_onto), with the `[tls]` files relative to `dir`.
    fn parse_in(
        builder: PolicyBuilder,
        text: &str,
        name: &str,
        dir: Option<&Path>,
    ) -> Result<PolicyFile, PolicyFileError> {
        let error = |span: Option<std::ops::Range<usize>>, message: String| PolicyFileError {
            file: name.to_string(),
            line: span.map(|s| line_of(text, s.start)),
            message,
        };
        let raw: Raw =
            toml::from_str(text).map_err(|e| error(e.span(), e.message().to_string()))?;
        let mut b = builder.file(name);
        let sections: [(&[Spanned<String>], Allow); 5] = [
            (&raw.connect, PolicyBuilder::allow_connect),
            (&raw.bind, PolicyBuilder::allow_bind),
            (&raw.accept, PolicyBuilder::allow_accept),
            (&raw.lookup, PolicyBuilder::allow_lookup),
            (&raw.unix, PolicyBuilder::allow_unix),
        ];
        for (rules, allow) in sections {
            for rule in rules {
                b = allow(b, rule.get_ref())
                    .map_err(|e| error(Some(rule.span()), e.to_string()))?;
            }
        }
        if raw.fd_passing {
            b = b.allow_fd_passing();
        }
        let d = Limits::default();
        let l = raw.limits;
        let limits = Limits {
            max_sockets: l.max_sockets.unwrap_or(d.max_sockets),
            max_read: l.max_read.unwrap_or(d.max_read).max(1),
            max_backlog: l.max_backlog.unwrap_or(d.max_backlog),
            max_fds_per_call: l.max_fds_per_call.unwrap_or(d.max_fds_per_call),
            max_pending_lookups: l.max_pending_lookups.unwrap_or(d.max_pending_lookups),
            max_parked: l.max_parked.unwrap_or(d.max_parked),
        };
        limits.validate().map_err(|e| error(None, e))?;
        let file = |f: &str| match dir {
            Some(dir) if Path::new(f).is_relative() => dir.join(f),
            _ => PathBuf::from(f),
        };
        let tls = TlsFile {
            ca: raw.tls.ca.iter().map(|f| file(f)).collect(),
            credentials: raw
                .tls
                .credentials
                .iter()
                .map(|(name, c)| (name.clone(), file(&c.cert), file(&c.key)))
                .collect(),
            allow_unverified: raw.tls.allow_unverified,
            system_roots: raw.tls.system_roots,
            min_version: (raw.tls.min_version.as_ref())
                .map(|v| v.get_ref().parse().map_err(|e| error(Some(v.span()), e)))
                .transpose()?,
        };
        Ok(PolicyFile {
            policy: b.build(),
            limits,
            tls,
        })
    }
}

/// The 1-based line of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_tls_table_relative_to_the_file() {
        let text = r#"
[tls]
ca = ["ca.pem", "/etc/other.pem"]
allow_unverified = true
system_roots = true
min_version = "1.3"
credentials.site = { cert = "site.pem", key = "keys/site.key" }
"#;
        let f = PolicyFile::parse_in(Policy::builder(), text, "p.toml", Some(Path::new("/cfg")))
            .unwrap();
        assert_eq!(
            f.tls,
            TlsFile {
                ca: vec![
                    PathBuf::from("/cfg/ca.pem"),
                    PathBuf::from("/etc/other.pem")
                ],
                credentials: vec![(
                    "site".to_string(),
                    PathBuf::from("/cfg/site.pem"),
                    PathBuf::from("/cfg/keys/site.key")
                )],
                allow_unverified: true,
                system_roots: true,
                min_version: Some(crate::TlsVersion::Tls13),
            }
        );
        let bad = PolicyFile::parse("[tls]\nmin_version = \"1.1\"\n", "p.toml").unwrap_err();
        assert!(bad.to_string().starts_with("p.toml:2:"), "{bad}");
        let bad = PolicyFile::parse("[tls]\nkeys = []\n", "p.toml").unwrap_err();
        assert!(bad.to_string().starts_with("p.toml:2:"), "{bad}");
        let none = PolicyFile::parse("", "p.toml").unwrap();
        assert_eq!(none.tls, TlsFile::default());
    }

    #[test]
    fn parses_rules_and_limits() {
        let text = r#"
connect = ["127.0.0.1:5432", "db.internal:5432"]
bind = ["127.0.0.1:0"]
accept = ["127.0.0.0/8"]
fd_passing = true

[limits]
max_sockets = 8
max_backlog = 4
"#;
        let f = PolicyFile::parse(text, "p.toml").unwrap();
        assert_eq!(f.limits.max_sockets, 8);
        assert_eq!(f.limits.max_backlog, 4);
        assert_eq!(f.limits.max_read, Limits::default().max_read);
        assert!(
            f.policy
                .check_connect(&"127.0.0.1:5432".parse().unwrap())
                .is_ok()
        );
        assert!(f.policy.check_lookup("db.internal").is_ok());
        assert!(f.policy.filters_accept());
        assert!(f.policy.check_fd_passing().is_ok());
        let d = f
            .policy
            .check_bind(&"127.0.0.1:80".parse().unwrap())
            .unwrap_err();
        assert!(
            d.to_string()
                .contains(r#"bind = ["127.0.0.1:80"] in p.toml"#),
            "{d}"
        );
    }

    #[test]
    fn errors_name_the_line() {
        let bad_rule = "bind = [\"127.0.0.1:0\"]\nconnect = [\n  \"1.2.3.4:99999\",\n]\n";
        let e = PolicyFile::parse(bad_rule, "p.toml")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("p.toml:3: invalid policy rule"), "{e}");
        let unknown = "conect = [\"1.2.3.4\"]\n";
        let e = PolicyFile::parse(unknown, "p.toml")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("p.toml:1: unknown field `conect`"), "{e}");
        let e = PolicyFile::parse("[limits]\nmax_sockets = -1\n", "p.toml")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("p.toml:2:"), "{e}");
        assert!(PolicyFile::parse("", "empty.toml").is_ok());
        let huge = format!("[limits]\nmax_read = {}\n", u64::MAX);
        let e = PolicyFile::parse(&huge, "p.toml").unwrap_err().to_string();
        assert!(e.contains("more than one read may take"), "{e}");
        let e = PolicyFile::parse("[limits]\nmax_fds_per_call = 100000\n", "p.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("max_fds_per_call"), "{e}");
    }
}
