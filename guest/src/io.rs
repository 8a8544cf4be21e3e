//! `makefile`: [`SocketIo`] (CPython's `SocketIO`, the raw stream) and [`SocketFile`], the
//! buffered binary or text file over it.

use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::rc::Rc;

use crate::bindings::sockbox::socket::socket as wit;
use crate::{Error, Result, Socket};

/// The buffer size when none is given (Python's `io.DEFAULT_BUFFER_SIZE`).
pub const DEFAULT_BUFFER_SIZE: usize = 8192;

/// CPython's `SocketIO`: a raw, unbuffered stream over a socket.
///
/// It keeps the OS socket open after the socket is closed, until it is closed or dropped
/// itself. Reads and writes use the socket's timeout at the time of the call. `read` and
/// `write` give `None` when a non-blocking socket cannot proceed; after a timeout, every later
/// read fails.
pub struct SocketIo {
    pub(crate) raw: wit::SocketIo,
    fileno: i32,
}

impl std::fmt::Debug for SocketIo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SocketIo")
            .field("fileno", &self.fileno)
            .finish_non_exhaustive()
    }
}

impl SocketIo {
    /// `SocketIO(sock, mode)`: mode is `r`, `w`, `rw`, `rb`, `wb` or `rwb`.
    ///
    /// # Errors
    /// [`Error::Value`] for another mode; `bad-descriptor` for a closed socket.
    pub fn new(sock: &Socket, mode: &str) -> Result<SocketIo> {
        Ok(SocketIo {
            raw: wit::SocketIo::open(sock.raw(), mode)?,
            fileno: sock.fileno(),
        })
    }

    /// `readinto(b)`: reads into `buf`; `None` when a non-blocking socket has nothing.
    ///
    /// # Errors
    /// [`Error::Timeout`] (and an error for every later read); [`Error::Value`] when closed.
    pub fn readinto(&self, buf: &mut [u8]) -> Result<Option<usize>> {
        Ok(self.raw.read(buf.len() as u64)?.map(|data| {
            let n = data.len().min(buf.len());
            buf[..n].copy_from_slice(&data[..n]);
            n
        }))
    }

    /// `write(b)`: how much was sent; `None` when a non-blocking socket is full.
    ///
    /// # Errors
    /// OS errors; [`Error::Value`] when closed.
    pub fn write(&self, data: &[u8]) -> Result<Option<usize>> {
        Ok(self.raw.write(data)?.map(|n| n as usize))
    }

    /// `readable()`.
    ///
    /// # Errors
    /// [`Error::Value`] when closed.
    pub fn readable(&self) -> Result<bool> {
        Ok(self.raw.readable()?)
    }

    /// `writable()`.
    ///
    /// # Errors
    /// [`Error::Value`] when closed.
    pub fn writable(&self) -> Result<bool> {
        Ok(self.raw.writable()?)
    }

    /// `seekable()`: false.
    ///
    /// # Errors
    /// [`Error::Value`] when closed.
    pub fn seekable(&self) -> Result<bool> {
        Ok(self.raw.seekable()?)
    }

    /// `fileno()`: the socket's number.
    pub fn fileno(&self) -> i32 {
        self.fileno
    }

    /// `name`: the socket's number, as in socket.py.
    pub fn name(&self) -> i32 {
        self.fileno
    }

    /// `mode`.
    pub fn mode(&self) -> String {
        self.raw.mode()
    }

    /// `closed`.
    pub fn closed(&self) -> bool {
        self.raw.closed()
    }

    /// `close()`: idempotent; the OS socket closes once its socket is closed too.
    pub fn close(&self) {
        self.raw.close();
    }
}

/// A would-block as an `io::Error` (std's buffered types expect that, not `None`).
fn would_block() -> io::Error {
    io::Error::from(io::ErrorKind::WouldBlock)
}

impl Read for &SocketIo {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.readinto(buf)?.ok_or_else(would_block)
    }
}

impl Write for &SocketIo {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        SocketIo::write(self, buf)?.ok_or_else(would_block)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A shared handle on the raw stream: the read and write buffers of a `rw` file share one.
#[derive(Clone)]
struct Shared(Rc<SocketIo>);

impl Read for Shared {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self.0).read(buf)
    }
}

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Write::write(&mut &*self.0, buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// How a text file treats line endings: Python's `newline` argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Newline {
    /// `None`: universal newlines on read (`\r\n` and `\r` become `\n`); `\n` written as is.
    Universal,
    /// `""`: no translation either way.
    Untranslated,
    /// `"\n"`: no translation.
    Lf,
    /// `"\r"`: `\n` is written as `\r`.
    Cr,
    /// `"\r\n"`: `\n` is written as `\r\n`.
    CrLf,
}

impl Newline {
    /// Python's `newline` argument: `None`, `""`, `"\n"`, `"\r"` or `"\r\n"`.
    ///
    /// # Errors
    /// [`Error::Value`] for anything else ("illegal newline value").
    pub fn parse(newline: Option<&str>) -> Result<Newline> {
        Ok(match newline {
            None => Newline::Universal,
            Some("") => Newline::Untranslated,
            Some("\n") => Newline::Lf,
            Some("\r") => Newline::Cr,
            Some("\r\n") => Newline::CrLf,
            Some(other) => return Err(Error::value(format!("illegal newline value: {other:?}"))),
        })
    }
}

/// The file `makefile` returns: binary or UTF-8 text, buffered (or raw with `buffering` 0),
/// readable (`Read`, `BufRead`) and/or writable (`Write`) as its mode says.
///
/// Dropping it flushes what is buffered and closes its stream; the socket it came from stays
/// open until closed itself, and the OS socket until both are.
pub struct SocketFile {
    io: Shared,
    reader: Option<Reader>,
    writer: Option<BufWriter<Shared>>,
    text: Option<Newline>,
    mode: String,
}

impl std::fmt::Debug for SocketFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SocketFile")
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

/// The read side: buffered, or raw for `buffering == 0`.
enum Reader {
    Buffered(BufReader<Shared>, Translate),
    Raw,
}

/// Universal-newline translation state: a `\r` was turned into `\n`, so a `\n` right after it
/// is dropped (the pair was one line ending), even across buffer refills.
#[derive(Default)]
struct Translate {
    on: bool,
    skip_lf: bool,
    out: Vec<u8>,
    pos: usize,
}

impl SocketFile {
    /// `makefile(mode, buffering, newline=...)` for `sock`.
    pub(crate) fn open(
        sock: &Socket,
        mode: &str,
        buffering: Option<usize>,
        newline: Option<&str>,
    ) -> Result<SocketFile> {
        if !mode.chars().all(|c| matches!(c, 'r' | 'w' | 'b')) {
            return Err(Error::value(format!(
                "invalid mode {mode:?} (only r, w, b allowed)"
            )));
        }
        let writing = mode.contains('w');
        let reading = mode.contains('r') || !writing;
        let binary = mode.contains('b');
        let raw_mode = format!(
            "{}{}b",
            if reading { "r" } else { "" },
            if writing { "w" } else { "" }
        );
        let text = if binary {
            None
        } else {
            Some(Newline::parse(newline)?)
        };
        let buffering = buffering.unwrap_or(DEFAULT_BUFFER_SIZE);
        if buffering == 0 && !binary {
            return Err(Error::value("unbuffered streams must be binary"));
        }
        let io = Shared(Rc::new(SocketIo::new(sock, &raw_mode)?));
        let reader = reading.then(|| {
            if buffering == 0 {
                Reader::Raw
            } else {
                let translate = Translate {
                    on: text == Some(Newline::Universal),
                    ..Translate::default()
                };
                Reader::Buffered(BufReader::with_capacity(buffering, io.clone()), translate)
            }
        });
        let writer =
            (writing && buffering > 0).then(|| BufWriter::with_capacity(buffering, io.clone()));
        Ok(SocketFile {
            io,
            reader,
            writer,
            text,
            mode: mode.to_string(),
        })
    }

    /// `mode`, as given to `makefile`.
    pub fn mode(&self) -> &str {
        &self.mode
    }

    /// `fileno()`: the socket's number.
    pub fn fileno(&self) -> i32 {
        self.io.0.fileno()
    }

    /// Whether this is a text file (a mode without `b`).
    pub fn is_text(&self) -> bool {
        self.text.is_some()
    }

    /// The raw stream under the buffers.
    pub fn raw(&self) -> &SocketIo {
        &self.io.0
    }

    /// `readline()`: one line with its ending, as text (`""` at end of stream).
    ///
    /// # Errors
    /// OS errors, [`Error::Timeout`], invalid UTF-8 (`InvalidData`).
    pub fn readline(&mut self) -> io::Result<String> {
        let mut line = String::new();
        self.read_line(&mut line)?;
        Ok(line)
    }

    /// `close()`: flushes, then closes the stream (not the socket).
    ///
    /// # Errors
    /// What flushing fails with.
    pub fn close(&mut self) -> io::Result<()> {
        let flushed = self.flush();
        self.io.0.close();
        flushed
    }

    fn not_readable() -> io::Error {
        io::Error::new(io::ErrorKind::Unsupported, "File not open for reading")
    }
}

impl Read for SocketFile {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.reader {
            Some(Reader::Raw) => self.io.read(buf),
            Some(Reader::Buffered(..)) => {
                let avail = self.fill_buf()?;
                let n = avail.len().min(buf.len());
                buf[..n].copy_from_slice(&avail[..n]);
                self.consume(n);
                Ok(n)
            }
            None => Err(Self::not_readable()),
        }
    }
}

impl BufRead for SocketFile {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        let Some(Reader::Buffered(inner, t)) = &mut self.reader else {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "unbuffered or write-only file",
            ));
        };
        if !t.on {
            return inner.fill_buf();
        }
        if t.pos == t.out.len() {
            t.out.clear();
            t.pos = 0;
            loop {
                let chunk = inner.fill_buf()?;
                if chunk.is_empty() {
                    break;
                }
                for &b in chunk {
                    match b {
                        b'\n' if t.skip_lf => t.skip_lf = false,
                        b'\r' => {
                            t.out.push(b'\n');
                            t.skip_lf = true;
                        }
                        _ => {
                            t.out.push(b);
                            t.skip_lf = false;
                        }
                    }
                }
                let n = chunk.len();
                inner.consume(n);
                // A chunk of one skipped "\n" yields nothing: read on.
                if !t.out.is_empty() {
                    break;
                }
            }
        }
        Ok(&t.out[t.pos..])
    }

    /// One line, ended as the text mode's `newline` says (Python's readline): `"\n"` for
    /// universal newlines (after translation) and `"\n"`; `"\r"`; `"\r\n"`; any of `"\r"`,
    /// `"\n"`, `"\r\n"` for `""`. Binary files end lines at `"\n"`.
    fn read_line(&mut self, buf: &mut String) -> io::Result<usize> {
        let mut line = Vec::new();
        match self.text {
            Some(Newline::Cr) => {
                self.read_until(b'\r', &mut line)?;
            }
            Some(Newline::CrLf) => loop {
                if self.read_until(b'\n', &mut line)? == 0 || line.ends_with(b"\r\n") {
                    break;
                }
            },
            Some(Newline::Untranslated) => loop {
                let avail = self.fill_buf()?;
                if avail.is_empty() {
                    break;
                }
                match avail.iter().position(|&b| b == b'\n' || b == b'\r') {
                    Some(i) => {
                        let end = avail[i];
                        line.extend_from_slice(&avail[..=i]);
                        self.consume(i + 1);
                        if end == b'\r' && self.fill_buf()?.first() == Some(&b'\n') {
                            line.push(b'\n');
                            self.consume(1);
                        }
                        break;
                    }
                    None => {
                        let n = avail.len();
                        line.extend_from_slice(avail);
                        self.consume(n);
                    }
                }
            },
            _ => {
                self.read_until(b'\n', &mut line)?;
            }
        }
        let text =
            String::from_utf8(line).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        buf.push_str(&text);
        Ok(text.len())
    }

    fn consume(&mut self, amt: usize) {
        if let Some(Reader::Buffered(inner, t)) = &mut self.reader {
            if t.on {
                t.pos = (t.pos + amt).min(t.out.len());
            } else {
                inner.consume(amt);
            }
        }
    }
}

impl Write for SocketFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let ending: &[u8] = match self.text {
            Some(Newline::Cr) => b"\r",
            Some(Newline::CrLf) => b"\r\n",
            _ => b"\n",
        };
        let Some(w) = &mut self.writer else {
            // Unbuffered (binary only): straight to the raw stream.
            return if self.mode.contains('w') {
                self.io.write(buf)
            } else {
                Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    "File not open for writing",
                ))
            };
        };
        if ending == b"\n" {
            return w.write(buf);
        }
        // Text with "\r" or "\r\n" endings: translate each "\n".
        for piece in buf.split_inclusive(|&b| b == b'\n') {
            match piece.strip_suffix(b"\n") {
                Some(line) => {
                    w.write_all(line)?;
                    w.write_all(ending)?;
                }
                None => w.write_all(piece)?,
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.writer {
            Some(w) => w.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for SocketFile {
    fn drop(&mut self) {
        // Buffered bytes go out before the stream closes (a BufWriter drop would flush too,
        // but after `io` was closed).
        let _ = self.close();
    }
}

impl Socket {
    /// `makefile(mode)`: a buffered file over this socket (`"r"`, `"rb"`, `"w"`, `"wb"`,
    /// `"rw"`, `"rwb"`); text modes are UTF-8 with universal newlines.
    ///
    /// # Errors
    /// [`Error::Value`] for a bad mode; `bad-descriptor` when closed.
    pub fn makefile(&self, mode: &str) -> Result<SocketFile> {
        SocketFile::open(self, mode, None, None)
    }

    /// `makefile(mode, buffering, encoding=encoding, newline=newline)`: `buffering` `Some(0)`
    /// gives an unbuffered binary file (text refuses it, as in socket.py), `None` the default
    /// size. Text is UTF-8: `encoding` may name it (`"utf-8"`, `"utf8"`, any case) or be `None`.
    ///
    /// # Errors
    /// [`Error::Value`] for a bad mode, newline, encoding (another codec, or any with a binary
    /// mode), or unbuffered text; `bad-descriptor` when closed.
    pub fn makefile_with(
        &self,
        mode: &str,
        buffering: Option<usize>,
        encoding: Option<&str>,
        newline: Option<&str>,
    ) -> Result<SocketFile> {
        if let Some(encoding) = encoding {
            if mode.contains('b') {
                return Err(Error::value(
                    "binary mode doesn't take an encoding argument",
                ));
            }
            let name = encoding.to_ascii_lowercase().replace('_', "-");
            if name != "utf-8" && name != "utf8" {
                return Err(Error::value(format!(
                    "sockbox text files are UTF-8, not {encoding:?}"
                )));
            }
        }
        SocketFile::open(self, mode, buffering, newline)
    }
}
