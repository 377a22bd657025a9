//! A request head: parsed by `httparse` in place (every field borrows the
//! connection's input, nothing is copied), then checked as RFC 9112 asks:
//! the version, the framing of the body (`Content-Length` or chunked, never
//! both), `Host`, `Connection`, `Expect`, and the size limits.

use std::mem::MaybeUninit;

use crate::response::{Persist, Status};

/// Headers one request may have (hyper's default, 100); one more is a 431.
pub const MAX_HEADERS: usize = 100;

/// The longest chunk-size line (size and extensions) kept waiting for its
/// CRLF; past it, the body is malformed.
pub const MAX_CHUNK_LINE_BYTES: usize = 4096;

/// The request methods the routes tell apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `GET`.
    Get,
    /// `HEAD`: a `GET` without the body.
    Head,
    /// `POST`.
    Post,
    /// Any other token (`PUT`, `DELETE`, `OPTIONS`, ...).
    Other,
}

/// How the request's body is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// No body.
    None,
    /// `Content-Length: n`, n > 0.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// A request head, borrowing the input it was parsed from.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The method.
    pub method: Method,
    /// The target's path, percent-encoded as sent, without the query.
    pub path: &'a [u8],
    /// How the body is framed.
    pub body: BodyKind,
    /// Whether the connection stays open after the answer: HTTP/1.1 unless
    /// `Connection: close`, HTTP/1.0 only with `Connection: keep-alive`.
    pub persist: Persist,
    /// `Expect: 100-continue`.
    pub expect_continue: bool,
    /// The `Range` header's value.
    pub range: Option<&'a [u8]>,
    /// The `If-Modified-Since` header's value.
    pub if_modified_since: Option<&'a [u8]>,
}

/// The limits a head is checked against.
#[derive(Debug, Clone, Copy)]
pub struct HeadLimits {
    /// The whole head, request line and headers (nginx's
    /// `large_client_header_buffers` 4 8k: 32 KiB). Past it: 431.
    pub max_head_bytes: usize,
    /// The request target (nginx: one 8 KiB buffer). Past it: 414.
    pub max_uri_bytes: usize,
}

/// What parsing the front of the input found.
#[derive(Debug)]
pub enum Parsed<'a> {
    /// Not a whole head yet (and within the limits): wait for more.
    Partial,
    /// A head of this many bytes.
    Request(Request<'a>, usize),
    /// A head to answer with this error status, then close.
    Reject(Status),
}

/// Parses the head at the front of `input`.
pub fn parse<'a>(input: &'a [u8], limits: &HeadLimits) -> Parsed<'a> {
    let mut headers = [const { MaybeUninit::<httparse::Header<'a>>::uninit() }; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut []);
    let parsed = request.parse_with_uninit_headers(input, &mut headers);
    match parsed {
        Ok(httparse::Status::Complete(len)) => {
            if len > limits.max_head_bytes {
                return Parsed::Reject(Status::HeaderFieldsTooLarge);
            }
            match check(&request, limits) {
                Ok(checked) => Parsed::Request(checked, len),
                Err(status) => Parsed::Reject(status),
            }
        }
        Ok(httparse::Status::Partial) => partial_verdict(input, limits),
        Err(httparse::Error::TooManyHeaders) => Parsed::Reject(Status::HeaderFieldsTooLarge),
        Err(httparse::Error::Version) => Parsed::Reject(version_verdict(input)),
        Err(_) => Parsed::Reject(Status::BadRequest),
    }
}

/// A head still incomplete: within the limits it waits for more; past them
/// it is answered now, so a client cannot make the server hold more.
fn partial_verdict<'a>(input: &[u8], limits: &HeadLimits) -> Parsed<'a> {
    // The request line: method, target, version; a little room beside the target.
    let max_request_line = limits.max_uri_bytes + 64;
    let line_end = input.iter().take(max_request_line + 1).position(|&b| b == b'\n');
    match line_end {
        None if input.len() > max_request_line => Parsed::Reject(Status::UriTooLong),
        Some(end) if end > max_request_line => Parsed::Reject(Status::UriTooLong),
        _ if input.len() > limits.max_head_bytes => Parsed::Reject(Status::HeaderFieldsTooLarge),
        _ => Parsed::Partial,
    }
}

/// `HTTP/2.0` or `HTTP/3.0` is a version this server does not speak (505);
/// anything else httparse calls a bad version is a malformed line (400).
fn version_verdict(input: &[u8]) -> Status {
    let line = input.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    match line.rsplit(|&b| b == b' ').next() {
        Some([b'H', b'T', b'T', b'P', b'/', major, b'.', minor])
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            Status::VersionNotSupported
        }
        _ => Status::BadRequest,
    }
}

/// Checks a complete head and picks out what the server uses.
fn check<'a>(request: &httparse::Request<'_, 'a>, limits: &HeadLimits) -> Result<Request<'a>, Status> {
    let (Some(method), Some(target), Some(version)) = (request.method, request.path, request.version) else {
        return Err(Status::BadRequest);
    };
    if target.len() > limits.max_uri_bytes {
        return Err(Status::UriTooLong);
    }
    let http10 = version == 0;
    let method = match method {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        "POST" => Method::Post,
        _ => Method::Other,
    };
    let mut content_length: Option<u64> = None;
    let mut chunked = false;
    let mut hosts = 0;
    let mut close = false;
    let mut keep_alive = false;
    let mut expect_continue = false;
    let mut range = None;
    let mut if_modified_since = None;
    for header in request.headers.iter() {
        let name = header.name.as_bytes();
        let value = trim(header.value);
        if name.eq_ignore_ascii_case(b"content-length") {
            let length = parse_length(value).ok_or(Status::BadRequest)?;
            // Repeated, it must agree with itself (RFC 9112 6.3).
            if content_length.is_some_and(|seen| seen != length) {
                return Err(Status::BadRequest);
            }
            content_length = Some(length);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            if chunked || !value.eq_ignore_ascii_case(b"chunked") {
                // A coding this server cannot decode (gzip, chunked twice, ...).
                return Err(Status::NotImplemented);
            }
            chunked = true;
        } else if name.eq_ignore_ascii_case(b"host") {
            hosts += 1;
        } else if name.eq_ignore_ascii_case(b"connection") {
            for token in value.split(|&b| b == b',').map(trim) {
                close |= token.eq_ignore_ascii_case(b"close");
                keep_alive |= token.eq_ignore_ascii_case(b"keep-alive");
            }
        } else if name.eq_ignore_ascii_case(b"expect") {
            if !value.eq_ignore_ascii_case(b"100-continue") {
                return Err(Status::ExpectationFailed);
            }
            // An HTTP/1.0 client does not wait for 100 (RFC 9110 10.1.1).
            expect_continue = !http10;
        } else if name.eq_ignore_ascii_case(b"range") {
            range = Some(value);
        } else if name.eq_ignore_ascii_case(b"if-modified-since") {
            if_modified_since = Some(value);
        }
    }
    // RFC 9112 3.2: an HTTP/1.1 request has exactly one Host.
    if (!http10 && hosts != 1) || hosts > 1 {
        return Err(Status::BadRequest);
    }
    // Both framings at once is how requests are smuggled (RFC 9112 6.1): refuse.
    // Chunked is HTTP/1.1's; an HTTP/1.0 message cannot carry it.
    if chunked && (content_length.is_some() || http10) {
        return Err(Status::BadRequest);
    }
    let body = match (chunked, content_length) {
        (true, _) => BodyKind::Chunked,
        (false, Some(0) | None) => BodyKind::None,
        (false, Some(length)) => BodyKind::Length(length),
    };
    let persist = match (http10, close, keep_alive) {
        (_, true, _) => Persist::Close,
        (false, false, _) => Persist::KeepAlive,
        (true, false, true) => Persist::KeepAlive10,
        (true, false, false) => Persist::Close,
    };
    let path = origin_path(target.as_bytes()).ok_or(Status::BadRequest)?;
    Ok(Request { method, path, body, persist, expect_continue, range, if_modified_since })
}

/// The path of an origin-form target (`/a/b?q`), or of an absolute-form one
/// (`http://host/a/b?q`, which RFC 9112 3.2.2 requires a server to accept).
fn origin_path(target: &[u8]) -> Option<&[u8]> {
    let target = match target {
        [b'/', ..] => target,
        _ => {
            let rest = strip_prefix_ignore_case(target, b"http://")
                .or_else(|| strip_prefix_ignore_case(target, b"https://"))?;
            let slash = rest.iter().position(|&b| b == b'/' || b == b'?').unwrap_or(rest.len());
            match &rest[slash..] {
                [b'/', ..] => &rest[slash..],
                _ => b"/",
            }
        }
    };
    let end = target.iter().position(|&b| b == b'?' || b == b'#').unwrap_or(target.len());
    Some(&target[..end])
}

fn strip_prefix_ignore_case<'a>(bytes: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    (bytes.len() >= prefix.len() && bytes[..prefix.len()].eq_ignore_ascii_case(prefix)).then(|| &bytes[prefix.len()..])
}

/// A `Content-Length` value: digits only (no sign, no spaces inside), at
/// most 19 of them so it fits a u64.
fn parse_length(value: &[u8]) -> Option<u64> {
    if value.is_empty() || value.len() > 19 || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(value.iter().fold(0, |n, digit| n * 10 + u64::from(digit - b'0')))
}

/// `value` without leading and trailing spaces and tabs.
pub fn trim(value: &[u8]) -> &[u8] {
    let start = value.iter().position(|b| !matches!(b, b' ' | b'\t')).unwrap_or(value.len());
    let end = value.iter().rposition(|b| !matches!(b, b' ' | b'\t')).map_or(start, |end| end + 1);
    &value[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: HeadLimits = HeadLimits { max_head_bytes: 1024, max_uri_bytes: 256 };

    fn request(input: &[u8]) -> Request<'_> {
        match parse(input, &LIMITS) {
            Parsed::Request(request, len) => {
                assert_eq!(len, input.len(), "the whole head is consumed");
                request
            }
            other => panic!("{:?} should parse, got {other:?}", input.escape_ascii().to_string()),
        }
    }

    fn rejected(input: &[u8]) -> Status {
        match parse(input, &LIMITS) {
            Parsed::Reject(status) => status,
            other => panic!("{:?} should be rejected, got {other:?}", input.escape_ascii().to_string()),
        }
    }

    #[test]
    fn http11_keeps_alive_and_http10_closes_by_default() {
        assert_eq!(request(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").persist, Persist::KeepAlive);
        assert_eq!(request(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").persist, Persist::Close);
        assert_eq!(request(b"GET / HTTP/1.0\r\n\r\n").persist, Persist::Close);
        assert_eq!(request(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").persist, Persist::KeepAlive10);
    }

    #[test]
    fn body_framing_is_read_from_content_length_or_chunked() {
        assert_eq!(request(b"POST /e HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n").body, BodyKind::Length(5));
        assert_eq!(request(b"POST /e HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n").body, BodyKind::None);
        let chunked = b"POST /e HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(request(chunked).body, BodyKind::Chunked);
    }

    #[test]
    fn both_framings_or_a_bad_length_are_bad_requests() {
        let both = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(rejected(both), Status::BadRequest);
        assert_eq!(rejected(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -5\r\n\r\n"), Status::BadRequest);
        let differ = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n";
        assert_eq!(rejected(differ), Status::BadRequest);
        let gzip = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n";
        assert_eq!(rejected(gzip), Status::NotImplemented);
    }

    #[test]
    fn http11_without_host_is_a_bad_request() {
        assert_eq!(rejected(b"GET / HTTP/1.1\r\n\r\n"), Status::BadRequest);
    }

    #[test]
    fn unknown_versions_get_505_and_garbage_400() {
        assert_eq!(rejected(b"GET / HTTP/2.0\r\nHost: a\r\n\r\n"), Status::VersionNotSupported);
        assert_eq!(rejected(b"GET / HTXP/1.1\r\nHost: a\r\n\r\n"), Status::BadRequest);
    }

    #[test]
    fn oversize_target_is_414_and_oversize_head_431() {
        let long_target = format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "a".repeat(300));
        assert_eq!(rejected(long_target.as_bytes()), Status::UriTooLong);
        let unfinished_line = format!("GET /{}", "a".repeat(400));
        assert_eq!(rejected(unfinished_line.as_bytes()), Status::UriTooLong);
        let long_headers = format!("GET / HTTP/1.1\r\nHost: a\r\nX: {}", "b".repeat(2000));
        assert_eq!(rejected(long_headers.as_bytes()), Status::HeaderFieldsTooLarge);
        let many: String = (0..=MAX_HEADERS).map(|i| format!("X{i}: y\r\n")).collect();
        assert_eq!(rejected(format!("GET / HTTP/1.1\r\n{many}\r\n").as_bytes()), Status::HeaderFieldsTooLarge);
    }

    #[test]
    fn absolute_form_targets_give_their_path_without_the_query() {
        assert_eq!(request(b"GET http://a.example/x/y?z HTTP/1.1\r\nHost: a\r\n\r\n").path, b"/x/y");
        assert_eq!(request(b"GET http://a.example HTTP/1.1\r\nHost: a\r\n\r\n").path, b"/");
        assert_eq!(request(b"GET /json?x=1 HTTP/1.1\r\nHost: a\r\n\r\n").path, b"/json");
    }

    #[test]
    fn an_expectation_other_than_100_continue_fails() {
        assert_eq!(rejected(b"POST / HTTP/1.1\r\nHost: a\r\nExpect: magic\r\n\r\n"), Status::ExpectationFailed);
        assert!(request(b"POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\n\r\n").expect_continue);
    }
}
