//! The RESP decoder against the obvious encoder: whatever reads the bytes
//! arrive in and however many requests are pipelined, the same commands
//! come out; malformed input gets Redis's error and never a panic.

use std::borrow::Cow;

use proptest::prelude::*;

use super::*;

/// A request as owned arguments, so results of many calls can be compared.
type Command = Vec<Vec<u8>>;

/// What a request or an error decoded to, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Decoded {
    Command(Command),
    Error(RespError),
}

/// The array a client library sends for `command`.
fn encode(command: &[Vec<u8>]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", command.len()).into_bytes();
    for arg in command {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Whether `command` can be typed as an inline command without quoting.
fn is_plain_inline(command: &[Vec<u8>]) -> bool {
    !command.is_empty()
        && command[0].first() != Some(&b'*')
        && command
            .iter()
            .all(|arg| !arg.is_empty() && arg.iter().all(|&b| b.is_ascii_graphic() && b != b'"' && b != b'\''))
}

fn inline(command: &[Vec<u8>]) -> Vec<u8> {
    let mut out = command.join(&b' ');
    out.extend_from_slice(b"\r\n");
    out
}

/// Feeds `input` in reads of the given sizes the way the loop does: each
/// call sees the unconsumed bytes of the last followed by the new read;
/// the handler takes at most `per_call` requests before returning, and the
/// loop calls again while that makes progress. Checks after every read
/// that what is left unconsumed is within what the decoder said it needs.
fn decode_in_reads(input: &[u8], read_sizes: &[usize], per_call: usize) -> Vec<Decoded> {
    decode_in_reads_by(input, read_sizes, per_call, false)
}

/// As [`decode_in_reads`], taking the requests from the iterator or, with
/// `one_pass`, from [`Requests::next_args`].
fn decode_in_reads_by(input: &[u8], read_sizes: &[usize], per_call: usize, one_pass: bool) -> Vec<Decoded> {
    let mut decoder = RespDecoder::new();
    let mut unconsumed = Vec::new();
    let mut out = Vec::new();
    let mut rest = input;
    let mut sizes = read_sizes.iter().cycle();
    while !rest.is_empty() {
        let n = (*sizes.next().expect("at least one read size")).clamp(1, rest.len());
        unconsumed.extend_from_slice(&rest[..n]);
        rest = &rest[n..];
        loop {
            let mut requests = decoder.decode(&unconsumed);
            if one_pass {
                let mut args = Vec::new();
                for _ in 0..per_call {
                    let Some(item) = requests.next_args(&mut args) else { break };
                    out.push(match item {
                        Ok(()) => Decoded::Command(args.drain(..).map(Cow::into_owned).collect()),
                        Err(error) => Decoded::Error(error),
                    });
                }
            } else {
                for item in requests.by_ref().take(per_call) {
                    out.push(match item {
                        Ok(request) => Decoded::Command(request.args().map(|arg| arg.into_owned()).collect()),
                        Err(error) => Decoded::Error(error),
                    });
                }
            }
            let consumed = requests.consumed();
            assert!(consumed <= unconsumed.len(), "consumed {consumed} of {} bytes", unconsumed.len());
            unconsumed.drain(..consumed);
            if consumed == 0 {
                break;
            }
        }
        assert!(
            unconsumed.len() <= decoder.needed_input_bytes(),
            "{} bytes left unconsumed, but the decoder said it needs at most {}",
            unconsumed.len(),
            decoder.needed_input_bytes()
        );
    }
    out
}

fn commands(decoded: Vec<Decoded>) -> Vec<Command> {
    decoded
        .into_iter()
        .map(|d| match d {
            Decoded::Command(command) => command,
            Decoded::Error(error) => panic!("unexpected protocol error {error}"),
        })
        .collect()
}

fn decode_all(input: &[u8]) -> Vec<Decoded> {
    decode_in_reads(input, &[input.len().max(1)], usize::MAX)
}

fn args(request: Request<'_>) -> Vec<Vec<u8>> {
    request.args().map(|arg| arg.into_owned()).collect()
}

fn arb_command() -> impl Strategy<Value = Command> {
    let arg = prop_oneof![
        4 => proptest::collection::vec(b'a'..=b'z', 1..8),
        2 => proptest::collection::vec(any::<u8>(), 0..40),
        1 => proptest::collection::vec(prop_oneof![Just(b'\r'), Just(b'\n'), Just(b'*'), Just(b'$')], 0..6),
    ];
    proptest::collection::vec(arg, 1..6)
}

proptest! {
    #[test]
    fn any_split_of_any_pipeline_decodes_every_command(
        commands_sent in proptest::collection::vec((arb_command(), any::<bool>()), 1..30),
        read_sizes in proptest::collection::vec(1usize..40, 1..8),
        per_call in 1usize..4,
    ) {
        let mut input = Vec::new();
        for (command, as_inline) in &commands_sent {
            if *as_inline && is_plain_inline(command) {
                input.extend(inline(command));
            } else {
                input.extend(encode(command));
            }
        }
        let expected: Vec<Command> = commands_sent.into_iter().map(|(command, _)| command).collect();
        prop_assert_eq!(commands(decode_in_reads(&input, &read_sizes, per_call)), expected);
    }

    #[test]
    fn random_bytes_never_panic_and_stop_after_an_error(
        input in proptest::collection::vec(
            prop_oneof![
                3 => Just(b'*'), 3 => Just(b'$'), 3 => Just(b'\r'), 3 => Just(b'\n'), 4 => b'0'..=b'9',
                1 => Just(b'-'), 1 => Just(b'"'), 1 => Just(b'\''), 1 => Just(b'\\'), 1 => Just(b' '),
                2 => any::<u8>(),
            ],
            0..300,
        ),
        read_sizes in proptest::collection::vec(1usize..50, 1..6),
    ) {
        let decoded = decode_in_reads(&input, &read_sizes, usize::MAX);
        if let Some(at) = decoded.iter().position(|d| matches!(d, Decoded::Error(_))) {
            prop_assert_eq!(at, decoded.len() - 1, "nothing is decoded after a protocol error");
        }
        // However it was split, the same input decodes the same.
        prop_assert_eq!(decode_all(&input), decoded);
    }

    #[test]
    fn next_args_decodes_as_the_iterator_does_however_split(
        commands_sent in proptest::collection::vec((arb_command(), any::<bool>()), 1..30),
        noise in proptest::collection::vec(
            prop_oneof![3 => Just(b'*'), 3 => Just(b'$'), 3 => Just(b'\r'), 3 => Just(b'\n'), 4 => b'0'..=b'9', 2 => any::<u8>()],
            0..60,
        ),
        read_sizes in proptest::collection::vec(1usize..40, 1..8),
        per_call in 1usize..4,
    ) {
        let mut input = Vec::new();
        for (command, as_inline) in &commands_sent {
            if *as_inline && is_plain_inline(command) {
                input.extend(inline(command));
            } else {
                input.extend(encode(command));
            }
        }
        input.extend(noise);
        prop_assert_eq!(
            decode_in_reads_by(&input, &read_sizes, per_call, true),
            decode_in_reads_by(&input, &read_sizes, per_call, false),
            "next_args and the iterator disagree"
        );
    }
}

#[test]
fn split_at_every_byte_decodes_the_same() {
    let input: Vec<u8> = [
        encode(&[b"SET".to_vec(), b"key".to_vec(), vec![b'v'; 300]]),
        b"PING\r\n".to_vec(),
        encode(&[b"MSET".to_vec(), b"a".to_vec(), b"1".to_vec(), b"b".to_vec(), b"2".to_vec()]),
        b"ECHO \"a b\" 'c'\n".to_vec(),
    ]
    .concat();
    let whole = decode_all(&input);
    assert_eq!(whole.len(), 4);
    for split in 1..input.len() {
        let (a, b) = input.split_at(split);
        assert_eq!(decode_in_reads(&input, &[a.len(), b.len()], usize::MAX), whole, "split at {split}");
    }
    assert_eq!(decode_in_reads(&input, &[1], usize::MAX), whole, "one byte at a time");
}

#[test]
fn empty_lines_and_empty_arrays_are_skipped_like_redis() {
    assert_eq!(commands(decode_all(b"\r\n\n   \r\n*0\r\n*-1\r\nPING\r\n")), [vec![b"PING".to_vec()]]);
}

#[test]
fn inline_quotes_unescape_like_redis_cli() {
    let mut decoder = RespDecoder::new();
    let input = b"SET k \"a\\x41\\n\\\"q\" 'it\\'s' \"\" plain\r\n";
    let request = decoder.decode(input).next().unwrap().unwrap();
    assert_eq!(
        args(request),
        [&b"SET"[..], b"k", b"aA\n\"q", b"it's", b"", b"plain"].map(|arg| arg.to_vec()),
        "quoted arguments unquoted, plain ones as they are"
    );
}

#[test]
fn inline_arguments_without_quotes_are_borrowed() {
    let mut decoder = RespDecoder::new();
    let request = decoder.decode(b"GET key\n").next().unwrap().unwrap();
    assert!(request.args().all(|arg| matches!(arg, Cow::Borrowed(_))), "no copy for a plain inline argument");
}

#[test]
fn array_arguments_are_borrowed_from_the_input() {
    let input = encode(&[b"SET".to_vec(), b"k".to_vec(), b"value".to_vec()]);
    let mut decoder = RespDecoder::new();
    let request = decoder.decode(&input).next().unwrap().unwrap();
    let value = request.args().nth(2).unwrap();
    let Cow::Borrowed(value) = value else { panic!("an array argument should be borrowed") };
    let offset = value.as_ptr() as usize - input.as_ptr() as usize;
    assert_eq!(&input[offset..offset + 5], b"value", "the argument points into the input");
}

#[test]
fn protocol_errors_read_as_redis_answers_them() {
    let cases: [(&[u8], &str); 8] = [
        (b"*x\r\n", "Protocol error: invalid multibulk length"),
        (b"*3000000000\r\n", "Protocol error: invalid multibulk length"),
        (b"*1\r\n$-1\r\n", "Protocol error: invalid bulk length"),
        (b"*1\r\n$536870913\r\n", "Protocol error: invalid bulk length"),
        (b"*1\r\n+OK\r\n", "Protocol error: expected '$', got '+'"),
        (b"SET k \"open\r\n", "Protocol error: unbalanced quotes in request"),
        (b"SET k \"closed\"x\r\n", "Protocol error: unbalanced quotes in request"),
        (b"GET 'k'x\r\n", "Protocol error: unbalanced quotes in request"),
    ];
    for (input, expected) in cases {
        let decoded = decode_all(input);
        match decoded.as_slice() {
            [Decoded::Error(error)] => assert_eq!(error.to_string(), expected, "for {:?}", input.escape_ascii()),
            other => panic!("{:?} decoded to {other:?}, not one error", input.escape_ascii()),
        }
    }
}

#[test]
fn overlong_headers_and_inline_commands_are_errors_once_past_64_kib() {
    let long = vec![b'1'; MAX_INLINE_BYTES + 1];
    for (prefix, expected) in [
        (&b"*"[..], RespError::TooBigArrayLength),
        (&b"*1\r\n$"[..], RespError::TooBigBulkLength),
        (&b"GET "[..], RespError::TooBigInline),
    ] {
        let mut decoder = RespDecoder::new();
        let just_fits = [prefix, &long[..MAX_INLINE_BYTES - prefix.len()]].concat();
        assert_eq!(decoder.decode(&just_fits).next(), None, "{expected:?}: 64 KiB without an end still waits");
        let input = [prefix, &long[..]].concat();
        let mut requests = RespDecoder::new().decode(&input).map(|r| r.map(args)).collect::<Vec<_>>();
        assert_eq!(requests.pop(), Some(Err(expected)));
    }
}

#[test]
fn requests_before_an_error_come_first_and_nothing_after() {
    let mut decoder = RespDecoder::new();
    let input = b"PING\r\n*1\r\n$x\r\nPING\r\n";
    let mut requests = decoder.decode(input);
    assert_eq!(requests.next().map(|r| r.map(args)), Some(Ok(vec![b"PING".to_vec()])));
    assert_eq!(requests.next().map(|r| r.map(args)), Some(Err(RespError::InvalidBulkLength)));
    assert_eq!(requests.next(), None);
    assert_eq!(requests.consumed(), input.len(), "an error consumes the rest");
    assert_eq!(decoder.decode(b"PING\r\n").next(), None, "the decoder stays failed");
}

#[test]
fn needed_input_bytes_announces_a_large_bulk_string_before_it_arrives() {
    let mut decoder = RespDecoder::new();
    let mut input = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$67108864\r\n".to_vec();
    let header_len = input.len();
    assert_eq!(decoder.decode(&input).next(), None);
    assert_eq!(decoder.needed_input_bytes(), header_len + 64 * 1024 * 1024 + 2);
    input.resize(header_len + 64 * 1024 * 1024, b'x');
    input.extend_from_slice(b"\r\n");
    let mut requests = decoder.decode(&input);
    let request = requests.next().unwrap().unwrap();
    assert_eq!(request.args().nth(2).map(|value| value.len()), Some(64 * 1024 * 1024));
    assert_eq!(requests.consumed(), input.len());
    assert_eq!(decoder.needed_input_bytes(), MAX_INLINE_BYTES + 2, "nothing unfinished any more");
}

#[test]
fn an_unfinished_array_resumes_where_it_stopped() {
    let mut decoder = RespDecoder::new();
    let input = encode(&[b"MSET".to_vec(), b"a".to_vec(), b"1".to_vec()]);
    let cut = input.len() - 3;
    assert_eq!(decoder.decode(&input[..cut]).next(), None);
    let resumed = decoder.partial.expect("the unfinished array is remembered");
    assert_eq!((resumed.argc, resumed.done), (3, 2), "two of three elements parsed already");
    assert_eq!(decoder.decode(&input).next().map(|r| r.map(|r| r.len())), Some(Ok(3)));
}

#[test]
fn redis_integers_are_strict() {
    for (text, value) in [(&b"0"[..], Some(0)), (b"12", Some(12)), (b"-5", Some(-5))] {
        assert_eq!(parse_redis_int(text), value);
    }
    assert_eq!(parse_redis_int(b"9223372036854775807"), Some(i64::MAX));
    assert_eq!(parse_redis_int(b"-9223372036854775808"), Some(i64::MIN));
    for bad in [&b""[..], b"-", b"-0", b"01", b" 1", b"1 ", b"1.0", b"+1", b"9223372036854775808", b"0x1"] {
        assert_eq!(parse_redis_int(bad), None, "{:?}", bad.escape_ascii());
    }
}

#[test]
fn headers_with_leading_zeros_or_signs_are_judged_as_redis_judges_them() {
    assert_eq!(decode_all(b"*1\r\n$03\r\nGET\r\n"), [Decoded::Error(RespError::InvalidBulkLength)]);
    assert_eq!(decode_all(b"*1\r\n$+3\r\nGET\r\n"), [Decoded::Error(RespError::InvalidBulkLength)]);
    assert_eq!(decode_all(b"*01\r\n$3\r\nGET\r\n"), [Decoded::Error(RespError::InvalidArrayLength)]);
    assert_eq!(decode_all(b"*-1\r\nPING\r\n"), [Decoded::Command(vec![b"PING".to_vec()])]);
    assert_eq!(decode_all(b"*1\r\n$0\r\n\r\n"), [Decoded::Command(vec![Vec::new()])]);
}

#[test]
fn a_request_of_many_arguments_gives_its_spans_back() {
    let command: Vec<Vec<u8>> = (0..10_000).map(|i| i.to_string().into_bytes()).collect();
    let input = encode(&command);
    let mut decoder = RespDecoder::new();
    let mut args = Vec::new();
    let mut requests = decoder.decode(&input);
    assert!(requests.next_args(&mut args).is_some_and(|r| r.is_ok()), "the request decodes");
    assert_eq!(args.len(), 10_000);
    assert!(decoder.spans.capacity() <= KEPT_SPANS, "the decoder kept {} spans' room", decoder.spans.capacity());
}
