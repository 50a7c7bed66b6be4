//! `cargo xtask`: the CI gate, the demo, private IMAP servers, fuzzing, benches.
#![forbid(unsafe_code)]
#![allow(clippy::print_stdout, clippy::print_stderr)]

fn main() {
    println!("xtask");
}
