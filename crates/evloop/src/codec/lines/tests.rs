//! The line decoder against a plain reference: split the whole input on
//! `\n`, whatever reads it arrived in.

use proptest::prelude::*;

use super::*;

/// What a line decoded to, owned, so results of many calls can be compared.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Decoded {
    Text(String),
    TooLong,
    InvalidUtf8(Vec<u8>),
}

fn owned(item: Result<&str, LineError<'_>>) -> Decoded {
    match item {
        Ok(text) => Decoded::Text(text.to_string()),
        Err(LineError::TooLong { .. }) => Decoded::TooLong,
        Err(LineError::InvalidUtf8 { line, .. }) => Decoded::InvalidUtf8(line.to_vec()),
    }
}

/// The specification, written the obvious way: every `\n`-terminated
/// segment of the whole input is a line (minus one trailing `\r`), and a
/// final unterminated segment that can no longer fit counts as too long.
fn reference(input: &[u8], max_line_bytes: usize) -> Vec<Decoded> {
    let mut segments: Vec<&[u8]> = input.split(|&b| b == b'\n').collect();
    let unfinished = segments.pop().expect("split yields at least one segment");
    let mut lines: Vec<Decoded> = segments
        .into_iter()
        .map(|segment| {
            let line = segment.strip_suffix(b"\r").unwrap_or(segment);
            if line.len() > max_line_bytes {
                Decoded::TooLong
            } else {
                match String::from_utf8(line.to_vec()) {
                    Ok(text) => Decoded::Text(text),
                    Err(e) => Decoded::InvalidUtf8(e.into_bytes()),
                }
            }
        })
        .collect();
    if unfinished.strip_suffix(b"\r").unwrap_or(unfinished).len() > max_line_bytes {
        lines.push(Decoded::TooLong);
    }
    lines
}

/// Feeds `input` in reads of the given sizes the way the loop does: each
/// call sees the unconsumed bytes of the last followed by the new read. The
/// handler takes at most `per_call` lines before returning, and the loop
/// calls again while that makes progress. Checks after every call that the
/// unconsumed input stays within `max_buffered_bytes`.
fn decode_in_reads(input: &[u8], read_sizes: &[usize], max_line_bytes: usize, per_call: usize) -> Vec<Decoded> {
    let mut decoder = LineDecoder::with_max_line_bytes(max_line_bytes);
    let mut unconsumed = Vec::new();
    let mut out = Vec::new();
    let mut rest = input;
    let mut sizes = read_sizes.iter().cycle();
    while !rest.is_empty() {
        let n = (*sizes.next().expect("at least one read size")).clamp(1, rest.len());
        unconsumed.extend_from_slice(&rest[..n]);
        rest = &rest[n..];
        loop {
            let mut lines = decoder.decode(&unconsumed);
            out.extend(lines.by_ref().take(per_call).map(owned));
            let consumed = lines.consumed();
            unconsumed.drain(..consumed);
            if consumed == 0 {
                break;
            }
        }
        // The last call took every line there was: only an unfinished one is left.
        assert!(
            unconsumed.len() <= decoder.max_buffered_bytes(),
            "{} bytes left unconsumed with lines of at most {max_line_bytes}",
            unconsumed.len()
        );
    }
    out
}

fn decode_all(decoder: &mut LineDecoder, input: &[u8]) -> (Vec<Decoded>, usize) {
    let mut lines = decoder.decode(input);
    let decoded = lines.by_ref().map(owned).collect();
    (decoded, lines.consumed())
}

fn text(s: &str) -> Decoded {
    Decoded::Text(s.to_string())
}

#[test]
fn many_lines_in_one_read_all_come_out() {
    let mut decoder = LineDecoder::new();
    let (lines, consumed) = decode_all(&mut decoder, b"one\ntwo\r\n\nthree\n");
    assert_eq!(lines, [text("one"), text("two"), text(""), text("three")]);
    assert_eq!(consumed, 16);
    assert!(!decoder.is_mid_line());
}

#[test]
fn only_one_trailing_cr_is_stripped() {
    let mut decoder = LineDecoder::new();
    let (lines, _) = decode_all(&mut decoder, b"a\r\r\nb\rc\n\r\n");
    assert_eq!(lines, [text("a\r"), text("b\rc"), text("")]);
}

#[test]
fn an_unfinished_line_is_left_unconsumed() {
    let mut decoder = LineDecoder::new();
    let (lines, consumed) = decode_all(&mut decoder, b"whole\npart");
    assert_eq!(lines, [text("whole")]);
    assert_eq!(consumed, 6, "the unfinished line must stay with the loop");
    assert!(decoder.is_mid_line());
}

#[test]
fn a_line_split_over_many_reads_is_reassembled() {
    let mut decoder = LineDecoder::new();
    let mut unconsumed = Vec::new();
    let mut lines = Vec::new();
    for byte in b"split\r\n" {
        unconsumed.push(*byte);
        let (decoded, consumed) = decode_all(&mut decoder, &unconsumed);
        lines.extend(decoded);
        unconsumed.drain(..consumed);
    }
    assert_eq!(lines, [text("split")]);
    assert!(unconsumed.is_empty());
}

#[test]
fn the_unfinished_tail_is_not_searched_twice() {
    let mut decoder = LineDecoder::new();
    assert_eq!(decode_all(&mut decoder, b"abc").1, 0);
    let lines = decoder.decode(b"abcdef");
    assert_eq!(lines.searched, 3, "the first three bytes were searched already");
}

#[test]
fn a_line_of_exactly_the_maximum_fits_with_either_ending() {
    let mut decoder = LineDecoder::with_max_line_bytes(3);
    let (lines, _) = decode_all(&mut decoder, b"abc\nabc\r\n");
    assert_eq!(lines, [text("abc"), text("abc")]);
}

#[test]
fn a_cr_at_the_limit_waits_for_its_newline() {
    let mut decoder = LineDecoder::with_max_line_bytes(3);
    let (lines, consumed) = decode_all(&mut decoder, b"abc\r");
    assert!(lines.is_empty(), "abc\\r may still end as a 3-byte line");
    assert_eq!(consumed, 0);
    let (lines, _) = decode_all(&mut decoder, b"abc\r\n");
    assert_eq!(lines, [text("abc")]);
}

#[test]
fn an_overlong_line_is_reported_once_and_dropped_to_its_newline() {
    let mut decoder = LineDecoder::with_max_line_bytes(4);
    let (lines, consumed) = decode_all(&mut decoder, b"ok\ntoo long");
    assert_eq!(lines, [text("ok"), Decoded::TooLong]);
    assert_eq!(consumed, 11, "the overlong bytes must be consumed, not kept");
    assert!(decoder.is_mid_line());
    let (lines, consumed) = decode_all(&mut decoder, b" and longer");
    assert!(lines.is_empty(), "the same line must not be reported twice: {lines:?}");
    assert_eq!(consumed, 11);
    let (lines, _) = decode_all(&mut decoder, b"still\nnext\n");
    assert_eq!(lines, [text("next")], "the line after the overlong one decodes normally");
    assert!(!decoder.is_mid_line());
}

#[test]
fn invalid_utf8_is_an_error_with_the_bytes_and_decoding_goes_on() {
    let mut decoder = LineDecoder::new();
    let mut lines = decoder.decode(b"caf\xc3\xa9\n\xff\xfe\r\nafter\n");
    assert_eq!(lines.next(), Some(Ok("café")));
    match lines.next() {
        Some(Err(LineError::InvalidUtf8 { line, error })) => {
            assert_eq!(line, b"\xff\xfe");
            assert_eq!(error.valid_up_to(), 0);
        }
        other => panic!("expected invalid UTF-8, got {other:?}"),
    }
    assert_eq!(lines.next(), Some(Ok("after")));
    assert_eq!(lines.next(), None);
}

#[test]
fn stopping_early_consumes_only_the_lines_taken() {
    let mut decoder = LineDecoder::new();
    let input = b"first\nsecond\nthi";
    let mut lines = decoder.decode(input);
    assert_eq!(lines.next(), Some(Ok("first")));
    let consumed = lines.consumed();
    assert_eq!(consumed, 6);
    let (lines, consumed_next) = decode_all(&mut decoder, &input[consumed..]);
    assert_eq!(lines, [text("second")]);
    assert_eq!(consumed_next, 7);
}

#[test]
fn a_zero_maximum_accepts_only_empty_lines() {
    let mut decoder = LineDecoder::with_max_line_bytes(0);
    let (lines, consumed) = decode_all(&mut decoder, b"\n\r\nx\n\r");
    assert_eq!(lines, [text(""), text(""), Decoded::TooLong]);
    assert_eq!(consumed, 5, "a lone \\r may still be an empty line's ending");
}

#[test]
fn the_unfinished_last_line_comes_out_at_end_of_file() {
    let mut decoder = LineDecoder::with_max_line_bytes(8);
    let input = b"one\r\ntwo\r";
    let (lines, consumed) = decode_all(&mut decoder, input);
    assert_eq!(lines, [text("one")]);
    assert_eq!(decoder.decode_last(&input[consumed..]), Some(Ok("two")));
    assert_eq!(decoder.decode_last(b""), None, "nothing left, no line");
    assert!(!decoder.is_mid_line());

    let input = b"far too long, no newline";
    let (lines, consumed) = decode_all(&mut decoder, input);
    assert_eq!(lines, [Decoded::TooLong]);
    assert_eq!(decoder.decode_last(&input[consumed..]), None, "already reported");
    assert!(matches!(decoder.decode_last(b"\xff"), Some(Err(LineError::InvalidUtf8 { .. }))));
}

#[test]
fn errors_display_what_went_wrong() {
    let too_long = LineError::TooLong { max_line_bytes: 10 };
    assert_eq!(too_long.to_string(), "line longer than 10 bytes");
    let mut decoder = LineDecoder::new();
    let invalid = decoder.decode(b"\xff\n").next().expect("one line").expect_err("not UTF-8");
    assert!(invalid.to_string().starts_with("line is not valid UTF-8"), "{invalid}");
    assert!(invalid.source().is_some());
}

/// Bytes that make lines interesting: text, line endings, a two-byte
/// UTF-8 character and its halves, and bytes that are never UTF-8.
fn line_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop::sample::select(vec![b'a', b'b', b' ', b'\r', b'\n', 0xc3, 0xa9, 0xff]), 0..300)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn any_cutting_into_reads_yields_the_lines_of_the_whole_input(
        input in line_bytes(),
        read_sizes in prop::collection::vec(1usize..40, 1..20),
        max_line_bytes in 0usize..12,
        per_call in 1usize..4,
    ) {
        let expected = reference(&input, max_line_bytes);
        prop_assert_eq!(decode_in_reads(&input, &read_sizes, max_line_bytes, per_call), expected);
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_match_the_reference(
        input in prop::collection::vec(any::<u8>(), 0..2000),
        read_sizes in prop::collection::vec(1usize..600, 1..10),
        max_line_bytes in 0usize..300,
    ) {
        let expected = reference(&input, max_line_bytes);
        prop_assert_eq!(decode_in_reads(&input, &read_sizes, max_line_bytes, usize::MAX), expected);
    }
}
