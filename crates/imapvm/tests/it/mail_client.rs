//! mail_client (being written).
