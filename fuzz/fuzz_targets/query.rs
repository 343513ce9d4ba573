//! Query strings and percent-decoding, on every poll's path: never a panic;
//! the fast path for `name=value` agrees with the general one; decoding
//! undoes encoding and never makes text longer.

#![no_main]

use libfuzzer_sys::fuzz_target;
use minimax_mock::server::http::{percent_decode, query_param};
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // "name\0query", or a query alone looked up as task_id.
    let (name, query) = text.split_once('\0').unwrap_or(("task_id", text));
    let found = query_param(query, name);
    // The general path: the first pair whose decoded key is the name.
    let general = query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (key == name || percent_decode(key) == name).then(|| percent_decode(value))
    });
    assert_eq!(found, general, "query {query:?}, name {name:?}");

    let decoded = percent_decode(query);
    if !query.contains(['%', '+']) {
        assert_eq!(decoded, query, "nothing to decode");
    }
    // An escape is 3 bytes for 1, or for a 3-byte U+FFFD; `+` is 1 for 1.
    assert!(decoded.len() <= query.len(), "{query:?} grew to {decoded:?}");

    // Whatever a client encodes comes back as it was, as a value or a name.
    let encoded = utf8_percent_encode(text, NON_ALPHANUMERIC).to_string();
    assert_eq!(percent_decode(&encoded), text);
    let pair = format!("a=1&{encoded}={encoded}&task_id={encoded}");
    assert_eq!(query_param(&pair, "task_id").as_deref(), Some(text));
    if !text.is_empty() && text != "a" {
        assert_eq!(query_param(&pair, text).as_deref(), Some(text));
    }
});
