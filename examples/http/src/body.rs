//! A request body, decoded step by step from the front of the input: a
//! `Content-Length` body is passed through, a chunked one unframed
//! (`httparse::parse_chunk_size` for each size line). Each step consumes
//! what it can; the rest stays in the connection's input for the next
//! offer, so a body split at any byte decodes the same.

use crate::request::MAX_CHUNK_LINE_BYTES;
use crate::response::Status;

/// Trailer fields after the last chunk that one body may have.
const MAX_TRAILERS: usize = 32;

/// What one step of decoding found at the front of the input.
#[derive(Debug, PartialEq, Eq)]
pub enum Step<'a> {
    /// Body bytes; the step consumed exactly these.
    Data(&'a [u8]),
    /// This many bytes of chunk framing, no body bytes.
    Framing(usize),
    /// The body ended after this many more bytes of framing.
    Done(usize),
    /// Nothing whole to consume yet.
    NeedMore,
    /// The body is malformed (400), too large (413) or its trailers are
    /// (431).
    Error(Status),
}

/// Where a chunked body is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunked {
    /// At a chunk-size line.
    Size,
    /// Inside a chunk, with this many bytes to go.
    Data(u64),
    /// After a chunk's data, at its CRLF.
    DataEnd,
    /// After the last chunk, at the trailer section.
    Trailers,
}

/// The state of one request body being read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyDecoder {
    framing: Framing,
    /// Body bytes so far.
    received: u64,
    /// The most body bytes allowed (`max_body_bytes`).
    max: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Length(u64),
    Chunked(Chunked),
}

impl BodyDecoder {
    /// A `Content-Length: length` body (the caller has checked it against
    /// the limit).
    pub fn length(length: u64) -> BodyDecoder {
        BodyDecoder { framing: Framing::Length(length), received: 0, max: length }
    }

    /// A chunked body of at most `max` bytes.
    pub fn chunked(max: u64) -> BodyDecoder {
        BodyDecoder { framing: Framing::Chunked(Chunked::Size), received: 0, max }
    }

    /// Body bytes decoded so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Decodes one step from the front of `input`.
    pub fn step<'a>(&mut self, input: &'a [u8]) -> Step<'a> {
        match self.framing {
            Framing::Length(0) => Step::Done(0),
            Framing::Length(remaining) => {
                if input.is_empty() {
                    return Step::NeedMore;
                }
                let take = remaining.min(input.len() as u64) as usize;
                self.framing = Framing::Length(remaining - take as u64);
                self.received += take as u64;
                Step::Data(&input[..take])
            }
            Framing::Chunked(state) => self.step_chunked(state, input),
        }
    }

    fn step_chunked<'a>(&mut self, state: Chunked, input: &'a [u8]) -> Step<'a> {
        match state {
            Chunked::Size => match httparse::parse_chunk_size(input) {
                Ok(httparse::Status::Complete((used, size))) => {
                    if size == 0 {
                        self.framing = Framing::Chunked(Chunked::Trailers);
                    } else if self.received.saturating_add(size) > self.max {
                        return Step::Error(Status::ContentTooLarge);
                    } else {
                        self.framing = Framing::Chunked(Chunked::Data(size));
                    }
                    Step::Framing(used)
                }
                Ok(httparse::Status::Partial) if input.len() > MAX_CHUNK_LINE_BYTES => Step::Error(Status::BadRequest),
                Ok(httparse::Status::Partial) => Step::NeedMore,
                Err(_) => Step::Error(Status::BadRequest),
            },
            Chunked::Data(remaining) => {
                if input.is_empty() {
                    return Step::NeedMore;
                }
                let take = remaining.min(input.len() as u64) as usize;
                let left = remaining - take as u64;
                self.framing = Framing::Chunked(if left == 0 { Chunked::DataEnd } else { Chunked::Data(left) });
                self.received += take as u64;
                Step::Data(&input[..take])
            }
            Chunked::DataEnd => match input {
                [b'\r', b'\n', ..] => {
                    self.framing = Framing::Chunked(Chunked::Size);
                    Step::Framing(2)
                }
                [] | [b'\r'] => Step::NeedMore,
                _ => Step::Error(Status::BadRequest),
            },
            Chunked::Trailers => {
                let mut trailers = [httparse::EMPTY_HEADER; MAX_TRAILERS];
                match httparse::parse_headers(input, &mut trailers) {
                    Ok(httparse::Status::Complete((used, _))) => Step::Done(used),
                    Ok(httparse::Status::Partial) if input.len() > MAX_CHUNK_LINE_BYTES => {
                        Step::Error(Status::HeaderFieldsTooLarge)
                    }
                    Ok(httparse::Status::Partial) => Step::NeedMore,
                    Err(httparse::Error::TooManyHeaders) => Step::Error(Status::HeaderFieldsTooLarge),
                    Err(_) => Step::Error(Status::BadRequest),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes `input` as offered in pieces of `split` bytes, as the loop
    /// would offer it (unconsumed bytes stay at the front of the next
    /// offer); returns the body, or the error.
    fn decode(mut decoder: BodyDecoder, input: &[u8], split: usize) -> Result<Vec<u8>, Status> {
        let mut body = Vec::new();
        let mut buffered: Vec<u8> = Vec::new();
        let mut fed = 0;
        loop {
            let step = decoder.step(&buffered);
            match step {
                Step::Data(data) => {
                    let n = data.len();
                    body.extend_from_slice(data);
                    buffered.drain(..n);
                }
                Step::Framing(n) => {
                    buffered.drain(..n);
                }
                Step::Done(n) => {
                    buffered.drain(..n);
                    assert!(buffered.is_empty() && fed == input.len(), "bytes left after the body");
                    return Ok(body);
                }
                Step::NeedMore => {
                    assert!(fed < input.len(), "the body never ended");
                    let next = (fed + split).min(input.len());
                    buffered.extend_from_slice(&input[fed..next]);
                    fed = next;
                }
                Step::Error(status) => return Err(status),
            }
        }
    }

    #[test]
    fn chunked_body_decodes_the_same_split_at_every_byte() {
        let input = b"5\r\nhello\r\n1;ext=1\r\n \r\n6\r\n world\r\n0\r\nTrailer: x\r\n\r\n";
        for split in 1..=input.len() {
            assert_eq!(decode(BodyDecoder::chunked(100), input, split).unwrap(), b"hello  world", "split {split}");
        }
    }

    #[test]
    fn chunk_sizes_past_the_limit_are_413() {
        assert_eq!(decode(BodyDecoder::chunked(4), b"5\r\nhello\r\n0\r\n\r\n", 64), Err(Status::ContentTooLarge));
        let huge = b"ffffffffffffffff\r\n";
        assert_eq!(decode(BodyDecoder::chunked(4), huge, 64), Err(Status::ContentTooLarge));
    }

    #[test]
    fn malformed_chunks_are_400() {
        assert_eq!(decode(BodyDecoder::chunked(100), b"zz\r\n", 64), Err(Status::BadRequest));
        assert_eq!(decode(BodyDecoder::chunked(100), b"2\r\nabX\r\n", 64), Err(Status::BadRequest));
        let endless_extension = [b"1;".as_slice(), &[b'x'; MAX_CHUNK_LINE_BYTES + 1]].concat();
        assert_eq!(decode(BodyDecoder::chunked(100), &endless_extension, 512), Err(Status::BadRequest));
    }

    #[test]
    fn length_body_passes_through_in_pieces() {
        assert_eq!(decode(BodyDecoder::length(11), b"hello world", 3).unwrap(), b"hello world");
    }
}
