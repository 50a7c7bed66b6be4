//! Fuzz target `fetch_fast`: imapvm-proto's FETCH fast path against imap-codec. Any bytes,
//! read as one complete response (prefixed with `* 1 FETCH (` when the first byte is odd, so
//! most inputs reach the items), are either left to imap-codec by the fast path or read by
//! it as exactly the items imap-codec decodes (`fetch_fast_path_check`); never a panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let response = if first % 2 == 1 {
        [&b"* 1 FETCH ("[..], rest].concat()
    } else {
        rest.to_vec()
    };
    if let Err(e) = imapvm_proto::fetch_fast_path_check(&response) {
        panic!("{e}");
    }
});
