//! Header-block parser against a full mail-parser parse of the same Asterisk message.
//!
//! The baseline (`mail_parser_full`) and ours (`header_block`) run in the same process on
//! the same bytes; the ratio of their times is the figure to report. After criterion's
//! runs, a short interleaved timing prints that ratio directly.
#![allow(clippy::print_stdout, missing_docs)]

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use imapvm_message::HeaderBlock;
use mail_parser::MessageParser;

const MESSAGE: &[u8] = include_bytes!("../tests/fixtures/corpus/01-basic.eml");

fn header_end(bytes: &[u8]) -> usize {
    bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(bytes.len(), |p| p + 4)
}

fn compare(c: &mut Criterion) {
    let header_only = &MESSAGE[..header_end(MESSAGE)];
    let mut group = c.benchmark_group("voicemail_01_basic");
    group.bench_function("mail_parser_full", |b| {
        b.iter(|| {
            MessageParser::default()
                .parse(black_box(MESSAGE))
                .map(|m| m.parts.len())
        })
    });
    group.bench_function("header_block_full_message", |b| {
        b.iter(|| HeaderBlock::parse(black_box(MESSAGE)).fields.duration_secs)
    });
    group.bench_function("header_block_fetched_header", |b| {
        b.iter(|| {
            HeaderBlock::parse(black_box(header_only))
                .fields
                .duration_secs
        })
    });
    group.finish();

    // Same-run ratio, interleaved so that machine noise hits both sides alike.
    let rounds = 20;
    let per_round = 2000;
    let (mut full, mut ours) = (0u128, 0u128);
    for _ in 0..rounds {
        let start = Instant::now();
        for _ in 0..per_round {
            black_box(
                MessageParser::default()
                    .parse(black_box(MESSAGE))
                    .map(|m| m.parts.len()),
            );
        }
        full += start.elapsed().as_nanos();
        let start = Instant::now();
        for _ in 0..per_round {
            black_box(HeaderBlock::parse(black_box(MESSAGE)).fields.duration_secs);
        }
        ours += start.elapsed().as_nanos();
    }
    println!(
        "ratio mail-parser full parse / header-block parse (same message, same run): {:.1}x",
        full as f64 / ours.max(1) as f64
    );
}

criterion_group!(benches, compare);
criterion_main!(benches);
