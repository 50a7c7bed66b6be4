//! Sizes the runtime bounds [INV-7], shared by the modules that read files (audio, the
//! outbox spool) so that none of them has to import another for a number.

/// Largest audio file [`Audio::read`](crate::Audio::read) accepts (the message crate's
/// limit).
pub const MAX_AUDIO_FILE_BYTES: u64 = imapvm_message::MAX_AUDIO_BYTES as u64;
