//! An HTTP/1.1 GET client plugin: `http-get HOST PORT PATH` connects with
//! `create_connection`, writes the request through a `makefile("wb")` file and reads the
//! response through a `makefile("rb")` one. Prints the status line and the body.
//!
//! `sockbox run --allow-lookup localhost --allow-connect 127.0.0.1:8000 http-get.wasm
//!  localhost 8000 /`

use std::io::{BufRead, Read, Write};
use std::time::Duration;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [host, port, path] = &args[..] else {
        return Err("usage: http-get HOST PORT PATH".into());
    };
    let sock = sockbox::create_connection((host.as_str(), port.parse()?))
        .timeout(Duration::from_secs(10))
        .connect()?;

    let mut request = sock.makefile("wb")?;
    write!(
        request,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: sockbox-http-get\r\n\
         Connection: close\r\n\r\n"
    )?;
    request.flush()?;

    let mut response = sock.makefile("rb")?;
    let mut status = String::new();
    response.read_line(&mut status)?;
    let status = status.trim_end();
    if !status.starts_with("HTTP/1.") {
        return Err(format!("not an HTTP response: {status:?}").into());
    }
    let mut length: Option<usize> = None;
    loop {
        let mut header = String::new();
        if response.read_line(&mut header)? == 0 {
            return Err("connection closed in the headers".into());
        }
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = Some(value.trim().parse()?);
        }
    }
    let mut body = Vec::new();
    match length {
        Some(n) => {
            body.resize(n, 0);
            response.read_exact(&mut body)?;
        }
        None => {
            response.read_to_end(&mut body)?;
        }
    }
    println!("{status}");
    print!("{}", String::from_utf8_lossy(&body));
    Ok(())
}
