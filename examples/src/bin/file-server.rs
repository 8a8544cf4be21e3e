//! A static-file HTTP/1.1 server plugin. One thread serves every client at once through a
//! [`Poller`] over non-blocking sockets, and file bodies go out with zero-copy `sendfile`: no
//! byte of a file passes through wasm. It serves `GET` and `HEAD` for files under the guest
//! directory `/srv` (`index.html` for a directory), with `Range` (one range), `Content-Type`
//! by extension, keep-alive and pipelining, and closes connections idle for `IDLE_SECS`
//! (default 30). Each response is logged on stderr unless `--quiet`. It runs until the host
//! interrupts it.
//!
//! ```sh
//! sockbox run --listen 127.0.0.1:8080 --dir ./public::/srv file-server.wasm [--quiet] [IDLE_SECS]
//! ```

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use sockbox::fs::Descriptor;
use sockbox::{Errno, Error, Interest, Poller, Socket, preopened_sockets};

/// The longest request head (request line and headers) read before answering 431.
const MAX_HEAD: usize = 16 * 1024;
/// The most clients served at once; more wait in the listener's backlog.
const MAX_CLIENTS: usize = 1024;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Key {
    Listener,
    Client(u64),
}

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quiet = args.iter().any(|a| a == "--quiet");
    let idle = Duration::from_secs(
        args.iter()
            .find(|a| *a != "--quiet")
            .and_then(|s| s.parse().ok())
            .unwrap_or(30),
    );
    let (listener, name) = preopened_sockets()?
        .into_iter()
        .next()
        .ok_or_else(|| Error::Value("no listener: run with --listen ADDR".into()))?;
    listener.setblocking(false);
    let mut poller = Poller::new();
    poller.register(&listener, Interest::READABLE, Key::Listener)?;
    let mut accepting = true;
    let mut clients: HashMap<u64, Client> = HashMap::new();
    let mut next_id = 0u64;
    eprintln!("file-server: serving /srv on {name}");
    loop {
        let ready: Vec<(Key, Interest)> = match poller.select(Some(Duration::from_secs(1))) {
            Ok(ready) => ready.into_iter().map(|(k, i)| (*k, i)).collect(),
            Err(e) => return stop(e),
        };
        for (key, interest) in ready {
            let id = match key {
                Key::Listener => {
                    if let Err(e) = accept_all(&listener, &mut poller, &mut clients, &mut next_id) {
                        return stop(e);
                    }
                    continue;
                }
                Key::Client(id) => id,
            };
            let Some(client) = clients.get_mut(&id) else {
                continue;
            };
            match client.advance(interest, quiet) {
                Ok(true) => poller.modify(&client.sock, client.wanted(), key)?,
                Ok(false) => drop_client(&mut poller, &mut clients, id)?,
                Err(e) if e.errno() == Some(Errno::Canceled) => return stop(e),
                // A client's error (a reset, a timeout) ends that client only.
                Err(e) => {
                    eprintln!("file-server: client {}: {e}", client.peer);
                    drop_client(&mut poller, &mut clients, id)?;
                }
            }
        }
        let now = Instant::now();
        let idle_ids: Vec<u64> = clients
            .iter()
            .filter(|(_, c)| now.duration_since(c.last_active) >= idle)
            .map(|(id, _)| *id)
            .collect();
        for id in idle_ids {
            drop_client(&mut poller, &mut clients, id)?;
        }
        // Stop taking connections at the limit; take them again once there is room.
        let full = clients.len() >= MAX_CLIENTS;
        if full && accepting {
            poller.unregister(&listener)?;
        } else if !full && !accepting {
            poller.register(&listener, Interest::READABLE, Key::Listener)?;
        }
        accepting = !full;
    }
}

/// Ends the server: cleanly when the host interrupted it (every call then fails with
/// `canceled`), with the error otherwise.
fn stop(e: Error) -> Result<(), Error> {
    if e.errno() == Some(Errno::Canceled) {
        eprintln!("file-server: interrupted by the host, stopping");
        Ok(())
    } else {
        Err(e)
    }
}

/// Takes every pending connection (up to the limit); fails only when the host interrupted
/// the instance.
fn accept_all(
    listener: &Socket,
    poller: &mut Poller<Key>,
    clients: &mut HashMap<u64, Client>,
    next_id: &mut u64,
) -> Result<(), Error> {
    while clients.len() < MAX_CLIENTS {
        match listener.accept() {
            Ok((sock, peer)) => {
                sock.setblocking(false);
                // A head and then its body (sendfile) are two sends: without NODELAY, Nagle
                // holds the body until the client's delayed ACK of the head (40 ms).
                let _ = sock.set_tcp_nodelay(true);
                poller.register(&sock, Interest::READABLE, Key::Client(*next_id))?;
                clients.insert(*next_id, Client::new(sock, peer.to_string()));
                *next_id += 1;
            }
            Err(e) if e.errno() == Some(Errno::Again) => break,
            Err(e) if e.errno() == Some(Errno::Canceled) => return Err(e),
            // A client that reset before it was accepted, or no descriptors left: serve on.
            Err(e) => {
                eprintln!("file-server: accept: {e}");
                break;
            }
        }
    }
    Ok(())
}

fn drop_client(
    poller: &mut Poller<Key>,
    clients: &mut HashMap<u64, Client>,
    id: u64,
) -> Result<(), Error> {
    if let Some(client) = clients.remove(&id) {
        poller.unregister(&client.sock)?;
    }
    Ok(())
}

/// One connection: the request bytes read so far and the response being sent.
struct Client {
    sock: Socket,
    peer: String,
    /// Received bytes not yet parsed (a partial head, or pipelined requests).
    input: Vec<u8>,
    /// The response in flight, if any.
    response: Option<Response>,
    last_active: Instant,
}

/// A response: its head (and any small body) from memory, then a file range by sendfile.
struct Response {
    head: Vec<u8>,
    sent: usize,
    file: Option<(Descriptor, u64, u64)>,
    keep_alive: bool,
    /// The access-log line, printed once the response is sent.
    log: String,
}

impl Client {
    fn new(sock: Socket, peer: String) -> Self {
        Self {
            sock,
            peer,
            input: Vec::new(),
            response: None,
            last_active: Instant::now(),
        }
    }

    /// Writable while a response is in flight, else readable.
    fn wanted(&self) -> Interest {
        if self.response.is_some() {
            Interest::WRITABLE
        } else {
            Interest::READABLE
        }
    }

    /// Reads, answers and sends what the socket allows; false once the connection is done.
    fn advance(&mut self, ready: Interest, quiet: bool) -> Result<bool, Error> {
        if (ready & Interest::READABLE) == Interest::READABLE && self.response.is_none() {
            match self.sock.recv(64 * 1024) {
                Ok(data) if data.is_empty() => return Ok(false),
                Ok(data) => {
                    self.input.extend_from_slice(&data);
                    self.last_active = Instant::now();
                }
                Err(e) if e.errno() == Some(Errno::Again) => {}
                Err(e) => return Err(e),
            }
        }
        loop {
            if self.response.is_none() {
                match parse_head(&self.input) {
                    Head::Incomplete if self.input.len() > MAX_HEAD => {
                        self.input.clear();
                        self.response =
                            Some(error(431, "Request Header Fields Too Large", "", false));
                    }
                    Head::Incomplete => return Ok(true),
                    Head::Bad(code, reason) => {
                        self.input.clear();
                        self.response = Some(error(code, reason, "", false));
                    }
                    Head::Request(request, len) => {
                        self.input.drain(..len);
                        let mut response = respond(&request);
                        response.log =
                            format!("{} {} {}", request.method, request.target, response.log);
                        self.response = Some(response);
                    }
                }
            }
            let response = self.response.as_mut().expect("a response is in flight");
            if !response.send(&self.sock)? {
                return Ok(true);
            }
            self.last_active = Instant::now();
            let done = self.response.take().expect("a response was in flight");
            if !quiet {
                eprintln!("file-server: {} {}", self.peer, done.log);
            }
            if !done.keep_alive {
                return Ok(false);
            }
        }
    }
}

impl Response {
    /// Sends what the socket takes; true once all of it went.
    fn send(&mut self, sock: &Socket) -> Result<bool, Error> {
        while self.sent < self.head.len() {
            match sock.send(&self.head[self.sent..]) {
                Ok(n) => self.sent += n,
                Err(e) if e.errno() == Some(Errno::Again) => return Ok(false),
                Err(e) => return Err(e),
            }
        }
        while let Some((file, pos, end)) = &mut self.file {
            if *pos >= *end {
                break;
            }
            match sock.sendfile(file, *pos, Some(*end - *pos)) {
                Ok(0) => return Err(Error::Value("the file shrank while it was sent".into())),
                Ok(n) => *pos += n,
                Err(e) if e.errno() == Some(Errno::Again) => return Ok(false),
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }
}

/// A parsed request head: what the response depends on.
struct Request {
    method: String,
    target: String,
    keep_alive: bool,
    range: Option<String>,
    if_range: bool,
}

enum Head {
    Incomplete,
    Bad(u16, &'static str),
    /// The request and the length of its head in the input.
    Request(Request, usize),
}

/// Parses the request head at the start of `input`, if it is all there.
fn parse_head(input: &[u8]) -> Head {
    // Blank lines before a request are skipped (RFC 9112 §2.2).
    let start = input
        .iter()
        .position(|b| !matches!(b, b'\r' | b'\n'))
        .unwrap_or(input.len());
    let Some(end) = input[start..].windows(4).position(|w| w == b"\r\n\r\n") else {
        return Head::Incomplete;
    };
    let len = start + end + 4;
    let Ok(head) = std::str::from_utf8(&input[start..start + end]) else {
        return Head::Bad(400, "Bad Request");
    };
    let mut lines = head.split("\r\n");
    let mut parts = lines.next().unwrap_or("").split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Head::Bad(400, "Bad Request");
    };
    let http11 = match version {
        "HTTP/1.1" => true,
        "HTTP/1.0" => false,
        v if v.starts_with("HTTP/") => return Head::Bad(505, "HTTP Version Not Supported"),
        _ => return Head::Bad(400, "Bad Request"),
    };
    let mut request = Request {
        method: method.to_string(),
        target: target.to_string(),
        keep_alive: http11,
        range: None,
        if_range: false,
    };
    let mut host = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            return Head::Bad(400, "Bad Request");
        };
        let value = value.trim();
        match name.to_ascii_lowercase().as_str() {
            "host" => host = true,
            "connection" => {
                for token in value.split(',').map(str::trim) {
                    if token.eq_ignore_ascii_case("close") {
                        request.keep_alive = false;
                    } else if token.eq_ignore_ascii_case("keep-alive") {
                        request.keep_alive = true;
                    }
                }
            }
            "range" => request.range = Some(value.to_string()),
            "if-range" => request.if_range = true,
            // No request here has a body; one that says it has would desynchronise the stream.
            "content-length" if value != "0" => return Head::Bad(413, "Content Too Large"),
            "transfer-encoding" => return Head::Bad(501, "Not Implemented"),
            n if n.is_empty() || n.contains([' ', '\t']) => return Head::Bad(400, "Bad Request"),
            _ => {}
        }
    }
    if http11 && !host {
        return Head::Bad(400, "Bad Request");
    }
    Head::Request(request, len)
}

/// The response to a well-formed request.
fn respond(request: &Request) -> Response {
    let head_only = match request.method.as_str() {
        "GET" => false,
        "HEAD" => true,
        _ => {
            return error(
                405,
                "Method Not Allowed",
                "Allow: GET, HEAD\r\n",
                request.keep_alive,
            );
        }
    };
    let Some((file, size, path)) = open_target(&request.target) else {
        return error(404, "Not Found", "", request.keep_alive);
    };
    let range = match &request.range {
        Some(spec) if !request.if_range => parse_range(spec, size),
        _ => Range::Whole,
    };
    let (status, start, end) = match range {
        Range::Whole => ("200 OK", 0, size),
        Range::Part(start, end) => ("206 Partial Content", start, end),
        Range::Unsatisfiable => {
            let range = format!("Content-Range: bytes */{size}\r\n");
            return error(416, "Range Not Satisfiable", &range, request.keep_alive);
        }
    };
    let mut head = format!(
        "HTTP/1.1 {status}\r\nServer: sockbox-file-server\r\nContent-Type: {}\r\n\
         Content-Length: {}\r\nAccept-Ranges: bytes\r\n",
        content_type(&path),
        end - start
    );
    if status.starts_with("206") {
        let _ = write!(head, "Content-Range: bytes {start}-{}/{size}\r\n", end - 1);
    }
    let connection = if request.keep_alive {
        "keep-alive"
    } else {
        "close"
    };
    let _ = write!(head, "Connection: {connection}\r\n\r\n");
    Response {
        head: head.into_bytes(),
        sent: 0,
        log: format!(
            "{} {} bytes",
            &status[..3],
            if head_only { 0 } else { end - start }
        ),
        file: (!head_only).then_some((file, start, end)),
        keep_alive: request.keep_alive,
    }
}

/// The file a request target names under `/srv`, its size and path; `None` for 404.
fn open_target(target: &str) -> Option<(Descriptor, u64, String)> {
    let path = target.split(['?', '#']).next()?;
    let path = percent_decode(path.strip_prefix('/')?)?;
    let mut segments = Vec::new();
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        // Plain names only: no `..`, no hidden files, no way out of /srv.
        let plain = !segment.starts_with('.')
            && segment
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-~+".contains(&b));
        if !plain {
            return None;
        }
        segments.push(segment);
    }
    let mut full = format!("/srv/{}", segments.join("/"));
    let mut file = sockbox::fs::open(&full).ok()?;
    let mut stat = file.stat().ok()?;
    if stat.type_ == sockbox::fs::DescriptorType::Directory {
        full = format!("{}/index.html", full.trim_end_matches('/'));
        file = sockbox::fs::open(&full).ok()?;
        stat = file.stat().ok()?;
    }
    (stat.type_ == sockbox::fs::DescriptorType::RegularFile).then_some((file, stat.size, full))
}

/// `%XX` escapes decoded; `None` for a bad escape or a result that is not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

enum Range {
    Whole,
    /// `[start, end)`.
    Part(u64, u64),
    Unsatisfiable,
}

/// One byte range (`bytes=A-B`, `bytes=A-`, `bytes=-N`) of a file of `size` bytes. Anything
/// else (other units, several ranges, malformed) is ignored, as RFC 9110 allows: the whole
/// file is sent.
fn parse_range(spec: &str, size: u64) -> Range {
    let Some(spec) = spec.strip_prefix("bytes=") else {
        return Range::Whole;
    };
    let Some((first, last)) = spec.trim().split_once('-') else {
        return Range::Whole;
    };
    if spec.contains(',') {
        return Range::Whole;
    }
    let parse = |s: &str| s.trim().parse::<u64>().ok();
    let (start, end) = match (first.trim().is_empty(), last.trim().is_empty()) {
        // The last N bytes.
        (true, false) => match parse(last) {
            Some(0) => return Range::Unsatisfiable,
            Some(n) => (size.saturating_sub(n), size),
            None => return Range::Whole,
        },
        (false, true) => match parse(first) {
            Some(a) => (a, size),
            None => return Range::Whole,
        },
        (false, false) => match (parse(first), parse(last)) {
            (Some(a), Some(b)) if a <= b => (a, b.saturating_add(1).min(size)),
            _ => return Range::Whole,
        },
        (true, true) => return Range::Whole,
    };
    if start >= size {
        Range::Unsatisfiable
    } else {
        Range::Part(start, end)
    }
}

/// An error response with a short text body and `extra` header lines (each ending in CRLF).
fn error(code: u16, reason: &str, extra: &str, keep_alive: bool) -> Response {
    let body = format!("{code} {reason}\n");
    let connection = if keep_alive { "keep-alive" } else { "close" };
    let head = format!(
        "HTTP/1.1 {code} {reason}\r\nServer: sockbox-file-server\r\n\
         Content-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n{extra}\
         Connection: {connection}\r\n\r\n{body}",
        body.len()
    );
    Response {
        head: head.into_bytes(),
        sent: 0,
        file: None,
        keep_alive,
        log: format!("{code}"),
    }
}

/// The media type of a file, by its extension.
fn content_type(path: &str) -> &'static str {
    let ext = path.rsplit_once('.').map_or("", |(_, e)| e);
    match ext.to_ascii_lowercase().as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "txt" => "text/plain; charset=utf-8",
        "css" => "text/css",
        "js" | "mjs" => "text/javascript",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "wasm" => "application/wasm",
        "pdf" => "application/pdf",
        "xml" => "application/xml",
        "gz" => "application/gzip",
        _ => "application/octet-stream",
    }
}
