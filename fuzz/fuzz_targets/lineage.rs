//! Fuzz the forward lineage fields (`X-Asterisk-VM-Orig-Mailbox`, `-Orig-Message-ID`):
//! reading them from any bytes never panics; a lineage that reads back inserts into a
//! voicemail header block and reads back the same, and the block's own fields (what
//! Asterisk and imapvm read) are unchanged by the insertion.
#![no_main]

use imapvm_message::HeaderBlock;
use imapvm_message::lineage::Lineage;

const MESSAGE: &[u8] = b"Message-ID: <a@b>\r\nX-Asterisk-VM-Context: default\r\n\
X-Asterisk-VM-Extension: 1234\r\nX-Asterisk-VM-Orig-time: 1795674119\r\n\
X-Asterisk-VM-Message-ID: 1795674116-00000000\r\nMIME-Version: 1.0\r\n\r\nbody\r\n";

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let read = Lineage::from_header_block(data);
    // Also build one from the bytes: `mailbox \0 msg id`.
    let text = String::from_utf8_lossy(data);
    let (mailbox, msg_id) = text.split_once('\0').unwrap_or((&text, ""));
    let built = Lineage::new(mailbox, Some(msg_id)).ok();
    for lineage in [read, built].into_iter().flatten() {
        let mut message = MESSAGE.to_vec();
        assert!(lineage.insert_into(&mut message));
        assert_eq!(
            Lineage::from_header_block(&message).as_ref(),
            Some(&lineage)
        );
        assert_eq!(
            HeaderBlock::parse(&message).fields,
            HeaderBlock::parse(MESSAGE).fields,
            "the lineage changed a field the readers use"
        );
    }
});
