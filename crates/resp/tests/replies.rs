//! Property tests of reply encoding: whatever `Reply` tree the server builds, a client decodes
//! exactly the frame the protocol mapping promises, and never mistakes a prefix for a reply.

use bytes::Bytes;
use proptest::prelude::*;
use resp::{parse_frame, Frame, Protocol, Reply};

fn text() -> impl Strategy<Value = Bytes> {
    prop_oneof![
        3 => "[ -~]{0,12}".prop_map(Bytes::from),
        1 => prop::collection::vec(any::<u8>(), 0..12).prop_map(Bytes::from),
    ]
}

fn double() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>().prop_filter("NaN never compares equal", |d| !d.is_nan()),
        (-1_000_000i64..1_000_000).prop_map(|n| n as f64 / 1000.0),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(-0.0),
    ]
}

fn leaf() -> impl Strategy<Value = Reply> {
    prop_oneof![
        text().prop_map(Reply::Simple),
        text().prop_map(Reply::Error),
        any::<i64>().prop_map(Reply::Integer),
        prop::collection::vec(any::<u8>(), 0..40).prop_map(|b| Reply::Bulk(b.into())),
        Just(Reply::Null),
        Just(Reply::NullArray),
        double().prop_map(Reply::Double),
        any::<bool>().prop_map(Reply::Boolean),
        ("[a-z]{3}", text()).prop_map(|(f, text)| Reply::Verbatim {
            format: f.as_bytes().try_into().unwrap(),
            text,
        }),
    ]
}

fn reply() -> impl Strategy<Value = Reply> {
    leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Reply::Array),
            prop::collection::vec((inner.clone(), inner.clone()), 0..4).prop_map(Reply::Map),
            prop::collection::vec((inner.clone(), inner.clone()), 0..4).prop_map(Reply::PairMap),
            prop::collection::vec(inner.clone(), 0..6).prop_map(Reply::Set),
            prop::collection::vec(inner, 0..6).prop_map(Reply::Push),
        ]
    })
}

fn protocol() -> impl Strategy<Value = Protocol> {
    prop_oneof![Just(Protocol::Resp2), Just(Protocol::Resp3)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn encode_then_parse_round_trips(reply in reply(), proto in protocol()) {
        let bytes = reply.to_bytes(proto);
        let want = Frame::from_reply(&reply, proto);
        prop_assert_eq!(parse_frame(&bytes), Ok(Some((want, bytes.len()))));
        for cut in 0..bytes.len() {
            prop_assert_eq!(parse_frame(&bytes[..cut]), Ok(None), "prefix of {} bytes", cut);
        }
    }

    #[test]
    fn consecutive_replies_parse_in_order(a in reply(), b in reply(), proto in protocol()) {
        let mut bytes = Vec::new();
        a.encode(proto, &mut bytes);
        let split = bytes.len();
        b.encode(proto, &mut bytes);
        let (first, used) = parse_frame(&bytes).unwrap().unwrap();
        prop_assert_eq!(used, split);
        prop_assert_eq!(first, Frame::from_reply(&a, proto));
        let (second, rest) = parse_frame(&bytes[used..]).unwrap().unwrap();
        prop_assert_eq!(used + rest, bytes.len());
        prop_assert_eq!(second, Frame::from_reply(&b, proto));
    }

    #[test]
    fn parse_frame_never_panics(input in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = parse_frame(&input);
    }

    #[test]
    fn encoding_is_deterministic_and_appends(reply in reply(), proto in protocol()) {
        let mut out = b"x".to_vec();
        reply.encode(proto, &mut out);
        prop_assert_eq!(&out[1..], &reply.to_bytes(proto)[..]);
    }
}

#[test]
fn nan_round_trips_as_nan() {
    for proto in [Protocol::Resp2, Protocol::Resp3] {
        let bytes = Reply::Double(f64::NAN).to_bytes(proto);
        let (frame, _) = parse_frame(&bytes).unwrap().unwrap();
        match frame {
            Frame::Double(d) => assert!(d.is_nan()),
            Frame::Bulk(b) => assert_eq!(b, "nan"),
            other => panic!("{other:?}"),
        }
    }
}
