//! Parse speed: the Asterisk sample voicemail.conf, and a large generated one.
//!
//! The baseline is reading the same bytes as UTF-8 lines (the least any parser must do),
//! so results are reported as a ratio measured in the same run.

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

fn large_config(boxes: usize) -> String {
    let mut text = String::from(
        "[general]\nimapserver=imap.example.com\nimapflags=ssl\nformat=wav49|gsm\n[default]\n",
    );
    for i in 0..boxes {
        text.push_str(&format!(
            "{} => {},User {i},u{i}@example.com,,imapuser=vm{i}|imappassword=pw{i}|tz=eastern|attach=yes\n",
            1000 + i,
            4000 + i
        ));
    }
    text.push_str("[zonemessages]\neastern=America/New_York|'vm-received' Q 'digits/at' IMp\n");
    text
}

fn bench(c: &mut Criterion) {
    let sample = include_bytes!("../tests/fixtures/voicemail.conf.sample");
    let large = large_config(2000);
    c.bench_function("baseline: split sample into UTF-8 lines", |b| {
        b.iter(|| black_box(std::str::from_utf8(black_box(sample)).map(|s| s.lines().count())))
    });
    c.bench_function("parse sample", |b| {
        b.iter(|| black_box(imapvm_config::parse_bytes("s", black_box(sample))))
    });
    c.bench_function("baseline: split 2000-mailbox config into lines", |b| {
        b.iter(|| black_box(black_box(large.as_str()).lines().count()))
    });
    c.bench_function("parse 2000-mailbox config", |b| {
        b.iter(|| black_box(imapvm_config::parse_bytes("l", black_box(large.as_bytes()))))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
