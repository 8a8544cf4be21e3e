//! An HTTP/1.1 GET client plugin: `http-get [--tls] HOST PORT PATH` connects with
//! `create_connection`, writes the request through a `makefile("wb")` file and streams the
//! response body, exactly as sent, to stdout through a `makefile("rb")` one: framed by
//! `Content-Length`, by chunked transfer coding (decoded here), or by the end of the
//! connection. With `--tls` it speaks https: the host's TLS, verified against the host's roots
//! (`sockbox run --tls-ca FILE` adds one). The status line goes to stderr; a status other than
//! 2xx exits with status 1. Memory use does not grow with the body.
//!
//! ```sh
//! sockbox run --allow-lookup localhost --allow-connect 127.0.0.1:8000 http-get.wasm \
//!     localhost 8000 / > body
//! sockbox run --allow-lookup example.com --allow-connect example.com:443 http-get.wasm \
//!     --tls example.com 443 /
//! ```

use std::io::{BufRead, Read, Write};
use std::time::Duration;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn main() -> Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let tls = args.first().is_some_and(|a| a == "--tls");
    if tls {
        args.remove(0);
    }
    let [host, port, path] = &args[..] else {
        return Err("usage: http-get [--tls] HOST PORT PATH".into());
    };
    let sock = sockbox::create_connection((host.as_str(), port.parse()?))
        .timeout(Duration::from_secs(30))
        .connect()?;

    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: sockbox-http-get\r\n\
         Accept-Encoding: identity\r\nConnection: close\r\n\r\n"
    );
    let mut response: Box<dyn BufRead> = if tls {
        let options = sockbox::tls::ClientOptions::new(host.as_str());
        let mut tls = sockbox::tls::TlsStream::connect(sock, &options)?;
        tls.write_all(request.as_bytes())?;
        Box::new(std::io::BufReader::with_capacity(64 << 10, tls))
    } else {
        let mut writer = sock.makefile("wb")?;
        writer.write_all(request.as_bytes())?;
        writer.flush()?;
        Box::new(sock.makefile("rb")?)
    };
    // Interim responses (100 Continue, 103 Early Hints) come before the final one.
    let (status, code, headers) = loop {
        let (status, code, headers) = read_head(&mut response)?;
        if !(100..200).contains(&code) {
            break (status, code, headers);
        }
    };
    eprintln!("{status}");
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    let mut out = std::io::stdout().lock();
    if code == 204 || code == 304 {
        // No body, whatever the headers say.
    } else if header("transfer-encoding").is_some_and(|te| {
        te.rsplit(',')
            .next()
            .is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked"))
    }) {
        copy_chunked(&mut response, &mut out)?;
    } else if let Some(length) = header("content-length") {
        let length: u64 = length.parse().map_err(|_| "a bad Content-Length")?;
        let copied = std::io::copy(&mut (&mut response).take(length), &mut out)?;
        if copied < length {
            return Err(format!("the body ended after {copied} of {length} bytes").into());
        }
    } else {
        std::io::copy(&mut response, &mut out)?;
    }
    out.flush()?;
    if !(200..300).contains(&code) {
        std::process::exit(1);
    }
    Ok(())
}

/// A response head: the status line, its code, and the headers (name, value) in order.
type Head = (String, u16, Vec<(String, String)>);

/// Reads a response head.
fn read_head(r: &mut impl BufRead) -> Result<Head> {
    let status = read_line(r)?;
    let code = status
        .strip_prefix("HTTP/1.")
        .and_then(|rest| rest.get(2..5))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("not an HTTP/1.x response: {status:?}"))?;
    let mut headers = Vec::new();
    loop {
        let line = read_line(r)?;
        if line.is_empty() {
            return Ok((status, code, headers));
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| format!("a bad header line: {line:?}"))?;
        headers.push((name.to_string(), value.trim().to_string()));
    }
}

/// One CRLF-terminated line of the head, without its terminator.
fn read_line(r: &mut impl BufRead) -> Result<String> {
    let mut line = Vec::new();
    // Bounded: a peer that never ends a line cannot make the plugin hold it all.
    if r.by_ref().take(64 * 1024).read_until(b'\n', &mut line)? == 0 || !line.ends_with(b"\n") {
        return Err("the connection closed (or a line ran on) in the response head".into());
    }
    let line = String::from_utf8(line).map_err(|_| "a response head that is not UTF-8")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

/// Decodes a chunked body from `r` into `out`: each chunk as it arrives, then the trailers
/// (discarded).
fn copy_chunked(r: &mut impl BufRead, out: &mut impl Write) -> Result<()> {
    loop {
        let line = read_line(r)?;
        let size = line.split(';').next().unwrap_or("").trim();
        let size =
            u64::from_str_radix(size, 16).map_err(|_| format!("a bad chunk size {line:?}"))?;
        if size == 0 {
            while !read_line(r)?.is_empty() {}
            return Ok(());
        }
        let copied = std::io::copy(&mut r.by_ref().take(size), out)?;
        if copied < size {
            return Err("the connection closed inside a chunk".into());
        }
        if !read_line(r)?.is_empty() {
            return Err("a chunk longer than its size".into());
        }
    }
}
