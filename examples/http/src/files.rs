//! Static files under `--root`: resolving a request path without leaving
//! the root, content types, `Last-Modified`/`If-Modified-Since` and single
//! byte ranges. Streaming the file is the handler's (`on_drain`).

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::response::Status;

/// A file found under the root, opened, with what its answer needs.
#[derive(Debug)]
pub struct Found {
    /// The open file.
    pub file: File,
    /// Its length.
    pub len: u64,
    /// Its modification time, whole seconds (what an HTTP date holds).
    pub modified: Option<SystemTime>,
    /// The content type its extension gives.
    pub content_type: &'static str,
}

/// Resolves `encoded`, the path after `/static/` as sent (percent-encoded),
/// under `root` (already canonical). Refuses, without touching the file
/// system, a path with a `..` segment, raw or percent-encoded, a NUL or a
/// bad escape (400); refuses a path that resolves, through a symlink, to
/// somewhere outside the root (403); a missing file or a directory is 404.
pub fn open(root: &Path, encoded: &[u8]) -> Result<Found, Status> {
    let decoded = percent_decode(encoded).ok_or(Status::BadRequest)?;
    let mut path = PathBuf::from(root);
    for segment in decoded.split(|&b| b == b'/') {
        match segment {
            b"" | b"." => {}
            b".." => return Err(Status::BadRequest),
            _ if segment.contains(&0) => return Err(Status::BadRequest),
            _ => path.push(std::str::from_utf8(segment).map_err(|_| Status::NotFound)?),
        }
    }
    let real = path.canonicalize().map_err(|err| io_status(&err))?;
    if !real.starts_with(root) {
        return Err(Status::Forbidden);
    }
    let file = File::open(&real).map_err(|err| io_status(&err))?;
    let meta = file.metadata().map_err(|err| io_status(&err))?;
    if !meta.is_file() {
        return Err(Status::NotFound);
    }
    let modified = meta.modified().ok().map(whole_seconds);
    Ok(Found { file, len: meta.len(), modified, content_type: content_type(&real) })
}

fn io_status(err: &io::Error) -> Status {
    match err.kind() {
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory => Status::NotFound,
        io::ErrorKind::PermissionDenied => Status::Forbidden,
        _ if err.raw_os_error() == Some(36) => Status::NotFound, // ENAMETOOLONG
        _ => Status::InternalServerError,
    }
}

/// `%XX` escapes decoded; `None` for a malformed one.
fn percent_decode(encoded: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(encoded.len());
    let mut bytes = encoded.iter();
    while let Some(&b) = bytes.next() {
        if b == b'%' {
            let hi = hex(*bytes.next()?)?;
            let lo = hex(*bytes.next()?)?;
            out.push(hi << 4 | lo);
        } else {
            out.push(b);
        }
    }
    Some(out)
}

fn hex(digit: u8) -> Option<u8> {
    (digit as char).to_digit(16).map(|d| d as u8)
}

fn whole_seconds(time: SystemTime) -> SystemTime {
    let secs = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    UNIX_EPOCH + std::time::Duration::from_secs(secs)
}

/// Whether an `If-Modified-Since` value says the client's copy is current.
/// A value that is not an HTTP date is ignored, as RFC 9110 13.1.3 says.
pub fn not_modified(modified: Option<SystemTime>, if_modified_since: Option<&[u8]>) -> bool {
    let (Some(modified), Some(since)) = (modified, if_modified_since) else { return false };
    let Some(since) = std::str::from_utf8(since).ok().and_then(|s| httpdate::parse_http_date(s).ok()) else {
        return false;
    };
    modified <= since
}

/// What a `Range` header asks of a file of `len` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeAnswer {
    /// The whole file (no range, several ranges, or a unit other than bytes:
    /// RFC 9110 14.2 lets a server ignore them).
    Whole,
    /// Bytes `start..=end`.
    Part {
        /// First byte.
        start: u64,
        /// Last byte, inclusive.
        end: u64,
    },
    /// No byte of the file is in the range: 416.
    Unsatisfiable,
}

/// Reads a single byte range (`bytes=a-b`, `bytes=a-`, `bytes=-n`).
pub fn range(value: Option<&[u8]>, len: u64) -> RangeAnswer {
    let Some(spec) = value.and_then(|v| v.strip_prefix(b"bytes=")) else { return RangeAnswer::Whole };
    if spec.contains(&b',') {
        return RangeAnswer::Whole;
    }
    let Some(dash) = spec.iter().position(|&b| b == b'-') else { return RangeAnswer::Whole };
    let number = |digits: &[u8]| -> Option<u64> {
        let digits = crate::request::trim(digits);
        (!digits.is_empty() && digits.len() <= 19 && digits.iter().all(u8::is_ascii_digit))
            .then(|| digits.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0')))
    };
    let (first, last) = (&spec[..dash], &spec[dash + 1..]);
    match (number(first), number(last)) {
        // bytes=-n: the last n bytes.
        (None, Some(suffix)) if crate::request::trim(first).is_empty() => {
            if suffix == 0 || len == 0 {
                RangeAnswer::Unsatisfiable
            } else {
                RangeAnswer::Part { start: len.saturating_sub(suffix), end: len - 1 }
            }
        }
        (Some(start), None) if crate::request::trim(last).is_empty() => {
            if start >= len {
                RangeAnswer::Unsatisfiable
            } else {
                RangeAnswer::Part { start, end: len - 1 }
            }
        }
        (Some(start), Some(end)) if start <= end => {
            if start >= len {
                RangeAnswer::Unsatisfiable
            } else {
                RangeAnswer::Part { start, end: end.min(len - 1) }
            }
        }
        // Syntactically invalid: ignored (RFC 9110 14.2).
        _ => RangeAnswer::Whole,
    }
}

/// The content type for a file's extension (nginx's `mime.types`, the
/// common part); `application/octet-stream` otherwise, nginx's `default_type`.
pub fn content_type(path: &Path) -> &'static str {
    let extension = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    match extension.as_str() {
        "html" | "htm" => "text/html",
        "css" => "text/css",
        "txt" => "text/plain",
        "xml" => "text/xml",
        "js" | "mjs" => "application/javascript",
        "json" => "application/json",
        "wasm" => "application/wasm",
        "pdf" => "application/pdf",
        "zip" => "application/zip",
        "gz" => "application/gzip",
        "tar" => "application/x-tar",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "svg" => "image/svg+xml",
        "ico" => "image/x-icon",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "mp3" => "audio/mpeg",
        "mp4" => "video/mp4",
        "webm" => "video/webm",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_of_each_form_are_read() {
        assert_eq!(range(Some(b"bytes=0-9"), 100), RangeAnswer::Part { start: 0, end: 9 });
        assert_eq!(range(Some(b"bytes=90-"), 100), RangeAnswer::Part { start: 90, end: 99 });
        assert_eq!(range(Some(b"bytes=-10"), 100), RangeAnswer::Part { start: 90, end: 99 });
        assert_eq!(range(Some(b"bytes=50-500"), 100), RangeAnswer::Part { start: 50, end: 99 });
        assert_eq!(range(Some(b"bytes=-500"), 100), RangeAnswer::Part { start: 0, end: 99 });
    }

    #[test]
    fn a_range_past_the_end_is_unsatisfiable_and_odd_ones_are_ignored() {
        assert_eq!(range(Some(b"bytes=100-"), 100), RangeAnswer::Unsatisfiable);
        assert_eq!(range(Some(b"bytes=-0"), 100), RangeAnswer::Unsatisfiable);
        assert_eq!(range(Some(b"bytes=0-1,5-6"), 100), RangeAnswer::Whole);
        assert_eq!(range(Some(b"items=0-1"), 100), RangeAnswer::Whole);
        assert_eq!(range(Some(b"bytes=9-2"), 100), RangeAnswer::Whole);
        assert_eq!(range(None, 100), RangeAnswer::Whole);
    }

    #[test]
    fn dot_segments_raw_or_encoded_are_refused_before_any_lookup() {
        let root = Path::new("/nonexistent-root");
        for path in [&b"../etc/passwd"[..], b"a/../../x", b"%2e%2e/x", b"%2E%2E%2fx", b"a/%2e%2e/%2e%2e/x", b"a%00b"] {
            assert_eq!(open(root, path).unwrap_err(), Status::BadRequest, "{:?}", path.escape_ascii().to_string());
        }
    }

    #[test]
    fn if_modified_since_at_or_after_the_mtime_is_not_modified() {
        let mtime = UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        let modified = Some(mtime);
        let at = httpdate::fmt_http_date(mtime);
        assert!(not_modified(modified, Some(at.as_bytes())));
        let before = httpdate::fmt_http_date(UNIX_EPOCH + std::time::Duration::from_secs(1_600_000_000));
        assert!(!not_modified(modified, Some(before.as_bytes())));
        assert!(!not_modified(modified, Some(b"yesterday")));
    }

    #[test]
    fn content_type_follows_the_extension() {
        assert_eq!(content_type(Path::new("a/index.HTML")), "text/html");
        assert_eq!(content_type(Path::new("big.bin")), "application/octet-stream");
    }
}
