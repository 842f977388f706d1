//! Property tests of the request parser: valid pipelines survive any chunking, and arbitrary
//! or mutated bytes never panic it and give the same outcome however they are split.

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use resp::{encode_command, parse_request, Limits, ProtocolError, RequestLimits, RequestParser};

/// What a parser made of a byte stream: the commands, the error that ended it (if any), and
/// what was left unconsumed (when no error).
#[derive(Debug, PartialEq)]
struct Outcome {
    cmds: Vec<Vec<Bytes>>,
    error: Option<ProtocolError>,
    left: Vec<u8>,
}

/// Feeds `input` in chunks of the given sizes (cycled), draining commands after each chunk.
fn feed(input: &[u8], chunks: &[usize], limits: &Limits, auth: bool) -> Outcome {
    let mut parser = RequestParser::new(limits.clone());
    let mut buf = BytesMut::new();
    let mut cmds = Vec::new();
    let mut rest = input;
    let mut sizes = chunks.iter().cycle();
    loop {
        loop {
            match parser.parse(&mut buf, auth) {
                Ok(Some(args)) => {
                    assert!(!args.is_empty(), "empty commands are skipped");
                    cmds.push(args);
                }
                Ok(None) => break,
                Err(e) => {
                    // How much was buffered when the error struck depends on the split.
                    return Outcome {
                        cmds,
                        error: Some(e),
                        left: Vec::new(),
                    };
                }
            }
        }
        if rest.is_empty() {
            return Outcome {
                cmds,
                error: None,
                left: buf.to_vec(),
            };
        }
        let n = (*sizes.next().unwrap_or(&1)).clamp(1, rest.len());
        buf.extend_from_slice(&rest[..n]);
        rest = &rest[n..];
    }
}

fn whole(input: &[u8], limits: &Limits, auth: bool) -> Outcome {
    feed(input, &[usize::MAX], limits, auth)
}

/// Limits small enough for short inputs to hit every check, with the line limit above the
/// input size so that the outcome cannot depend on how the input is split.
fn small_limits(input_len: usize) -> Limits {
    Limits {
        max_bulk_len: 40,
        max_args: 6,
        max_inline_len: input_len + 1,
        unauthenticated_max_args: 3,
        unauthenticated_max_bulk_len: 8,
    }
}

/// Bytes drawn mostly from the protocol's own alphabet, so that random input gets deep.
fn resp_ish_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    let alphabet: &[u8] = b"*$\r\n0123456789-+ \"'\\xa\0\t";
    prop::collection::vec(
        prop_oneof![
            4 => prop::sample::select(alphabet.to_vec()),
            1 => any::<u8>(),
        ],
        0..max,
    )
}

fn arg() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => prop::collection::vec(any::<u8>(), 0..12),
        1 => "[a-zA-Z0-9]{0,8}".prop_map(String::into_bytes),
        1 => prop::collection::vec(prop::sample::select(b"\r\n\0\"' \\".to_vec()), 0..6),
    ]
}

fn command() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop::collection::vec(arg(), 1..6)
}

/// An inline line that `sdssplitargs` turns back into `args`: every argument double-quoted,
/// every byte a `\xHH` escape.
fn inline_line(args: &[Vec<u8>]) -> Vec<u8> {
    let mut line = Vec::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            line.push(b' ');
        }
        line.push(b'"');
        for b in a {
            line.extend_from_slice(format!("\\x{b:02x}").as_bytes());
        }
        line.push(b'"');
    }
    line.extend_from_slice(b"\r\n");
    line
}

/// A pipeline of commands, each as multibulk or inline, with empty commands sprinkled in.
fn pipeline() -> impl Strategy<Value = (Vec<u8>, Vec<Vec<Vec<u8>>>)> {
    prop::collection::vec((command(), 0u8..4), 0..8).prop_map(|cmds| {
        let mut stream = Vec::new();
        for (args, style) in &cmds {
            match style {
                0 => stream.extend_from_slice(&inline_line(args)),
                1 => {
                    stream.extend_from_slice(b"*0\r\n\r\n");
                    encode_command(args, &mut stream);
                }
                _ => encode_command(args, &mut stream),
            }
        }
        (stream, cmds.into_iter().map(|(args, _)| args).collect())
    })
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Insert(usize, u8),
    Delete(usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let byte = prop_oneof![
        prop::sample::select(b"*$\r\n-09\"'\0 ".to_vec()),
        any::<u8>()
    ];
    prop_oneof![
        (any::<usize>(), byte.clone()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (any::<usize>(), byte).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<usize>().prop_map(Mutation::Delete),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn mutate(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        let len = bytes.len();
        match *m {
            Mutation::Flip(i, b) if len > 0 => bytes[i % len] = b,
            Mutation::Insert(i, b) => bytes.insert(i % (len + 1), b),
            Mutation::Delete(i) if len > 0 => {
                bytes.remove(i % len);
            }
            Mutation::Truncate(i) => bytes.truncate(i % (len + 1)),
            _ => {}
        }
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn valid_pipelines_survive_any_chunking(
        (stream, expected) in pipeline(),
        chunks in prop::collection::vec(1usize..20, 1..8),
    ) {
        let limits = Limits::default();
        let expected: Vec<Vec<Bytes>> = expected
            .into_iter()
            .map(|c| c.into_iter().map(Bytes::from).collect())
            .collect();
        let want = Outcome { cmds: expected, error: None, left: vec![] };
        prop_assert_eq!(&whole(&stream, &limits, true), &want);
        prop_assert_eq!(&feed(&stream, &chunks, &limits, true), &want);
        prop_assert_eq!(&feed(&stream, &[1], &limits, true), &want);
    }

    #[test]
    fn arbitrary_bytes_never_panic(
        input in prop::collection::vec(any::<u8>(), 0..600),
        chunks in prop::collection::vec(1usize..64, 1..6),
        auth: bool,
    ) {
        let limits = small_limits(input.len());
        let one = whole(&input, &limits, auth);
        prop_assert_eq!(&feed(&input, &chunks, &limits, auth), &one);
        // With a tiny line limit the outcome may depend on the split; it must still not panic.
        let tiny = Limits { max_inline_len: 4, ..limits };
        let _ = feed(&input, &chunks, &tiny, auth);
    }

    #[test]
    fn resp_like_bytes_never_panic(
        input in resp_ish_bytes(400),
        chunks in prop::collection::vec(1usize..16, 1..6),
        auth: bool,
    ) {
        let limits = small_limits(input.len());
        let one = whole(&input, &limits, auth);
        prop_assert_eq!(&feed(&input, &chunks, &limits, auth), &one);
        prop_assert_eq!(&feed(&input, &[1], &limits, auth), &one);
        let tiny = Limits { max_inline_len: 3, ..limits };
        let _ = feed(&input, &chunks, &tiny, auth);
    }

    #[test]
    fn mutated_valid_requests_never_panic(
        (stream, _) in pipeline(),
        mutations in prop::collection::vec(mutation(), 1..5),
        chunks in prop::collection::vec(1usize..16, 1..6),
        auth: bool,
    ) {
        let input = mutate(stream, &mutations);
        let limits = small_limits(input.len());
        let one = whole(&input, &limits, auth);
        prop_assert_eq!(&feed(&input, &chunks, &limits, auth), &one);
        let defaults = Limits { max_inline_len: input.len() + 1, ..Limits::default() };
        let one = whole(&input, &defaults, auth);
        prop_assert_eq!(&feed(&input, &chunks, &defaults, auth), &one);
    }

    #[test]
    fn stateless_parse_request_agrees_with_the_parser(
        input in resp_ish_bytes(300),
        auth: bool,
    ) {
        let limits = Limits::default();
        let stateful = whole(&input, &limits, auth);
        let flat = if auth {
            RequestLimits { max_args: limits.max_args, max_bulk_len: limits.max_bulk_len, authenticated: true }
        } else {
            RequestLimits {
                max_args: limits.unauthenticated_max_args,
                max_bulk_len: limits.unauthenticated_max_bulk_len,
                authenticated: false,
            }
        };
        let mut buf = BytesMut::from(&input[..]);
        let mut cmds = Vec::new();
        let error = loop {
            match parse_request(&mut buf, &flat) {
                Ok(Some(args)) => cmds.push(args),
                Ok(None) => break None,
                Err(e) => {
                    buf.clear();
                    break Some(e);
                }
            }
        };
        prop_assert_eq!(stateful, Outcome { cmds, error, left: buf.to_vec() });
    }
}
