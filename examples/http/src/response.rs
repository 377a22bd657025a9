//! Writing a response head: the status line and the headers every
//! response carries (`Server`, `Date`), then the ones a route adds.

use std::io::Write;

/// A response status: its code and the reason phrase RFC 9110 gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// 100 Continue: the interim answer to `Expect: 100-continue`.
    Continue,
    /// 200 OK.
    Ok,
    /// 206 Partial Content: one `Range`.
    PartialContent,
    /// 304 Not Modified: `If-Modified-Since` holds.
    NotModified,
    /// 400 Bad Request: a malformed request.
    BadRequest,
    /// 403 Forbidden: a path that leaves the root through a symlink, or a
    /// file the server may not read.
    Forbidden,
    /// 404 Not Found.
    NotFound,
    /// 405 Method Not Allowed, with `Allow`.
    MethodNotAllowed,
    /// 413 Content Too Large: a body past `max_body_bytes`.
    ContentTooLarge,
    /// 414 URI Too Long.
    UriTooLong,
    /// 416 Range Not Satisfiable.
    RangeNotSatisfiable,
    /// 417 Expectation Failed: an `Expect` other than `100-continue`.
    ExpectationFailed,
    /// 431 Request Header Fields Too Large.
    HeaderFieldsTooLarge,
    /// 500 Internal Server Error: a file that cannot be read.
    InternalServerError,
    /// 501 Not Implemented: a transfer coding other than chunked.
    NotImplemented,
    /// 505 HTTP Version Not Supported.
    VersionNotSupported,
}

impl Status {
    /// The status line, through its CRLF.
    pub fn line(self) -> &'static [u8] {
        match self {
            Status::Continue => b"HTTP/1.1 100 Continue\r\n",
            Status::Ok => b"HTTP/1.1 200 OK\r\n",
            Status::PartialContent => b"HTTP/1.1 206 Partial Content\r\n",
            Status::NotModified => b"HTTP/1.1 304 Not Modified\r\n",
            Status::BadRequest => b"HTTP/1.1 400 Bad Request\r\n",
            Status::Forbidden => b"HTTP/1.1 403 Forbidden\r\n",
            Status::NotFound => b"HTTP/1.1 404 Not Found\r\n",
            Status::MethodNotAllowed => b"HTTP/1.1 405 Method Not Allowed\r\n",
            Status::ContentTooLarge => b"HTTP/1.1 413 Content Too Large\r\n",
            Status::UriTooLong => b"HTTP/1.1 414 URI Too Long\r\n",
            Status::RangeNotSatisfiable => b"HTTP/1.1 416 Range Not Satisfiable\r\n",
            Status::ExpectationFailed => b"HTTP/1.1 417 Expectation Failed\r\n",
            Status::HeaderFieldsTooLarge => b"HTTP/1.1 431 Request Header Fields Too Large\r\n",
            Status::InternalServerError => b"HTTP/1.1 500 Internal Server Error\r\n",
            Status::NotImplemented => b"HTTP/1.1 501 Not Implemented\r\n",
            Status::VersionNotSupported => b"HTTP/1.1 505 HTTP Version Not Supported\r\n",
        }
    }

    /// The numeric code.
    pub fn code(self) -> u16 {
        let line = self.line();
        line[9..12].iter().fold(0, |code, digit| code * 10 + u16::from(digit - b'0'))
    }

    /// The short text body an error answers with: the reason phrase and a
    /// newline, as `curl` shows it.
    pub fn error_body(self) -> &'static [u8] {
        let line = self.line();
        // "HTTP/1.1 404 " .. "\r\n" -> "Not Found\n"; the caller adds the newline.
        &line[13..line.len() - 2]
    }
}

/// How a response's body is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// `Content-Length: n` (also on a `HEAD` answer, which sends no body).
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// No body and no length header (100, 304).
    None,
}

/// Whether the connection stays open after this response, and how to say so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Persist {
    /// HTTP/1.1's default: nothing to say.
    KeepAlive,
    /// An HTTP/1.0 client asked for `Connection: keep-alive`: say yes.
    KeepAlive10,
    /// `Connection: close`: the server closes after this response.
    Close,
}

/// Appends a response head to `out`: status line, `Server`, `Date`, then
/// `Content-Type` when given, the framing, `extra` header lines (each
/// through its CRLF), `Connection` when it needs saying, and the blank line.
#[inline]
pub fn write_head(
    out: &mut Vec<u8>,
    status: Status,
    date: &[u8],
    content_type: Option<&str>,
    framing: Framing,
    extra: &[u8],
    persist: Persist,
) {
    out.extend_from_slice(status.line());
    out.extend_from_slice(b"Server: evloop\r\nDate: ");
    out.extend_from_slice(date);
    out.extend_from_slice(b"\r\n");
    if let Some(content_type) = content_type {
        out.extend_from_slice(b"Content-Type: ");
        out.extend_from_slice(content_type.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    match framing {
        Framing::Length(length) => {
            out.extend_from_slice(b"Content-Length: ");
            write_decimal(out, length);
            out.extend_from_slice(b"\r\n");
        }
        Framing::Chunked => out.extend_from_slice(b"Transfer-Encoding: chunked\r\n"),
        Framing::None => {}
    }
    out.extend_from_slice(extra);
    match persist {
        Persist::KeepAlive => {}
        Persist::KeepAlive10 => out.extend_from_slice(b"Connection: keep-alive\r\n"),
        Persist::Close => out.extend_from_slice(b"Connection: close\r\n"),
    }
    out.extend_from_slice(b"\r\n");
}

/// Appends `n` in decimal, without `fmt`'s machinery on the hot path.
#[inline]
pub fn write_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// Appends the head of one chunk of `len` bytes (`{len:x}\r\n`).
pub fn write_chunk_head(out: &mut Vec<u8>, len: usize) {
    let _ = write!(out, "{len:x}\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_code_and_error_body_come_from_the_status_line() {
        assert_eq!(Status::NotFound.code(), 404);
        assert_eq!(Status::NotFound.error_body(), b"Not Found");
        assert_eq!(Status::HeaderFieldsTooLarge.code(), 431);
        assert_eq!(Status::VersionNotSupported.error_body(), b"HTTP Version Not Supported");
    }

    #[test]
    fn head_carries_server_date_type_length_and_blank_line() {
        let mut out = Vec::new();
        let date = b"Sun, 06 Dec 2026 03:00:00 GMT";
        write_head(&mut out, Status::Ok, date, Some("text/plain"), Framing::Length(13), b"", Persist::KeepAlive);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "HTTP/1.1 200 OK\r\nServer: evloop\r\nDate: Sun, 06 Dec 2026 03:00:00 GMT\r\n\
             Content-Type: text/plain\r\nContent-Length: 13\r\n\r\n"
        );
    }

    #[test]
    fn decimal_writes_zero_and_the_largest_u64() {
        let mut out = Vec::new();
        write_decimal(&mut out, 0);
        out.push(b' ');
        write_decimal(&mut out, u64::MAX);
        assert_eq!(out, b"0 18446744073709551615");
    }
}
