//! Modified UTF-7 (RFC 3501 §5.1.3): round trips and canonical decoding.

use imapvm_policy::mutf7::{decode, encode};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn any_text_round_trips(text in any::<String>()) {
        let wire = encode(&text);
        prop_assert!(wire.bytes().all(|b| (0x20..=0x7e).contains(&b)), "not printable ASCII: {wire:?}");
        prop_assert_eq!(decode(&wire), Ok(text));
    }

    #[test]
    fn decode_accepts_only_canonical_forms(wire in "[ -~]{0,40}") {
        if let Ok(text) = decode(&wire) {
            prop_assert_eq!(encode(&text), wire);
        }
    }

    #[test]
    fn decode_never_panics_on_shift_heavy_input(wire in "(&[A-Za-z0-9+,]{0,9}-?|[a-z&-]){0,12}") {
        if let Ok(text) = decode(&wire) {
            prop_assert_eq!(encode(&text), wire);
        }
    }
}

#[test]
fn dovecot_and_courier_style_names() {
    // Names a German mail client creates; Dovecot and Courier send them like this in LIST.
    assert_eq!(encode("Gel\u{f6}schte Elemente"), "Gel&APY-schte Elemente");
    assert_eq!(
        encode("Sprachnachrichten & Fax"),
        "Sprachnachrichten &- Fax"
    );
    assert_eq!(
        decode("&ZeVnLIqe-").as_deref(),
        Ok("\u{65e5}\u{672c}\u{8a9e}")
    );
}
