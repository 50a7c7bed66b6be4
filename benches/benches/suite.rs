//! The end-to-end suite (filled in with the harness).
fn main() {}
