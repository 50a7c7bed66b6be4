//! The statistics of the harness.

use std::time::Duration;

use imapvm_benches::measure::{
    Contender, Measured, OperationResult, Runner, median, order_period, percentile, round_order,
    run_interleaved, summarize,
};
use imapvm_benches::wire::WireStats;

#[test]
fn percentiles_are_nearest_rank() {
    let v: Vec<f64> = (1..=100).map(f64::from).collect();
    assert_eq!(percentile(&v, 99.0), 99.0);
    assert_eq!(percentile(&v, 50.0), 50.0);
    assert_eq!(percentile(&v, 100.0), 100.0);
    assert_eq!(percentile(&[3.0], 99.0), 3.0);
    assert_eq!(percentile(&[], 99.0), 0.0);
    let few = [1.0, 2.0, 3.0, 40.0];
    assert_eq!(
        percentile(&few, 99.0),
        40.0,
        "p99 of few samples is the max"
    );
    assert_eq!(median(&few), 2.5);
    assert_eq!(median(&[5.0, 1.0, 9.0][..1]), 5.0);
}

#[test]
fn summary_takes_medians_of_wire_counters() {
    let lat: Vec<Duration> = [30, 10, 20]
        .iter()
        .map(|&us| Duration::from_micros(us))
        .collect();
    let wire = [
        WireStats {
            round_trips: 3,
            bytes_out: 10,
            bytes_in: 100,
        },
        WireStats {
            round_trips: 1,
            bytes_out: 30,
            bytes_in: 300,
        },
        WireStats {
            round_trips: 2,
            bytes_out: 20,
            bytes_in: 200,
        },
    ];
    let s = summarize(&lat, &wire);
    assert_eq!(s.iterations, 3);
    assert!((s.median_us - 20.0).abs() < 1e-9);
    assert!((s.p99_us - 30.0).abs() < 1e-9);
    assert!((s.min_us - 10.0).abs() < 1e-9);
    assert_eq!((s.round_trips, s.bytes_out, s.bytes_in), (2, 20, 200));
}

#[test]
fn round_orders_balance_positions_and_neighbours_over_each_period() {
    for len in 1..=7 {
        let period = order_period(len);
        // Any `period` consecutive rounds (the timed ones start after the warm-up).
        for from in [0, 3, 17] {
            let mut at = vec![vec![0u32; len]; len];
            let mut after = vec![vec![0u32; len]; len];
            for round in from..from + period {
                let order = round_order(len, round);
                let mut sorted = order.clone();
                sorted.sort_unstable();
                assert_eq!(sorted, (0..len).collect::<Vec<_>>(), "{len}, round {round}");
                for (pos, &c) in order.iter().enumerate() {
                    at[c][pos] += 1;
                }
                for w in order.windows(2) {
                    after[w[1]][w[0]] += 1;
                }
            }
            let each = u32::try_from(period / len).unwrap();
            for c in 0..len {
                assert!(at[c].iter().all(|&n| n == each), "{len}: {at:?}");
                for before in 0..len {
                    let want = if before == c { 0 } else { each };
                    assert_eq!(
                        after[c][before], want,
                        "{len}: {c} after {before}: {after:?}"
                    );
                }
            }
        }
    }
    assert!(round_order(0, 3).is_empty());
    assert_eq!(order_period(5), 10);
    assert_eq!(order_period(6), 6);
}

#[test]
fn interleaving_runs_every_contender_each_round_and_skips_warmup() {
    let order = std::cell::RefCell::new(Vec::new());
    let mut runners = vec![
        Runner {
            contender: Contender::Asterisk,
            prepare: Box::new(|_| Ok(())),
            operate: Box::new(|i| {
                order.borrow_mut().push(("a", i));
                Ok(WireStats {
                    round_trips: 5,
                    ..WireStats::default()
                })
            }),
            settle: None,
        },
        Runner {
            contender: Contender::Floor,
            prepare: Box::new(|i| {
                order.borrow_mut().push(("prep", i));
                Ok(())
            }),
            operate: Box::new(|i| {
                order.borrow_mut().push(("f", i));
                Ok(WireStats {
                    round_trips: 1,
                    ..WireStats::default()
                })
            }),
            // What a proxy counted once the connection settled replaces it.
            settle: Some(Box::new(|w| {
                Ok(WireStats {
                    round_trips: w.round_trips + 2,
                    ..w
                })
            })),
        },
    ];
    let out = run_interleaved(&mut runners, 1, 2).unwrap();
    drop(runners);
    // Each round runs both once, in that round's order; the floor's preparation comes
    // right before its operation.
    let expected: Vec<_> = (0..3)
        .flat_map(|round| {
            round_order(2, round).into_iter().flat_map(move |i| {
                if i == 0 {
                    vec![("a", round)]
                } else {
                    vec![("prep", round), ("f", round)]
                }
            })
        })
        .collect();
    assert_eq!(order.into_inner(), expected);
    assert_eq!(out[0].0, Contender::Asterisk);
    assert_eq!(out[0].1.iterations, 2);
    assert_eq!(out[0].1.round_trips, 5);
    assert_eq!(out[1].1.round_trips, 3, "the settled count");
}

#[test]
fn ratios_need_both_sides() {
    let s = |us: f64| {
        summarize(
            &[Duration::from_secs_f64(us / 1e6)],
            &[WireStats::default()],
        )
    };
    let op = OperationResult {
        id: "count".into(),
        title: "count".into(),
        asterisk_source: String::new(),
        results: vec![
            Measured {
                contender: Contender::Asterisk,
                summary: Some(s(1000.0)),
                note: String::new(),
            },
            Measured {
                contender: Contender::Floor,
                summary: Some(s(100.0)),
                note: String::new(),
            },
            Measured {
                contender: Contender::Imapvm,
                summary: None,
                note: "pending".into(),
            },
        ],
        rtt_ms: 0,
    };
    let r = op.ratio(Contender::Asterisk, Contender::Floor).unwrap();
    assert!((r - 10.0).abs() < 0.01, "{r}");
    assert_eq!(op.ratio(Contender::Imapvm, Contender::Floor), None);
}

#[test]
fn iterations_shrink_with_the_distance() {
    use imapvm_benches::suite::{DEFAULT_RTTS, iterations_at, warmup_at};
    let at: Vec<usize> = DEFAULT_RTTS.iter().map(|&r| iterations_at(50, r)).collect();
    assert_eq!(at, [50, 25, 10, 4]);
    assert_eq!(iterations_at(5, 50), 3, "never fewer than 3");
    assert_eq!(iterations_at(2, 50), 2, "never more than asked");
    assert_eq!((warmup_at(3, 0), warmup_at(3, 20)), (3, 1));
}
