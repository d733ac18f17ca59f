//! How the cost of one check-in's change grows with its attendance document: 20,000 check-ins
//! into one document, one change each (or PER_CHANGE each), as the write path makes them (the
//! id looked up in the writer's memory of the document, one `put` of the change's check-ins,
//! `commit`, `save_after` the saved heads, `diff_incremental` for the projection). Prints the
//! mean cost of each step per check-in, per block of 2,000.
//!
//! `cargo run --release -p cecd --example doc_growth [N] [PER_CHANGE]`

use std::time::{Duration, Instant};

use cec_core::doc::{self, attendance};
use cec_core::{CheckIn, Direction, Method};

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let per_change: usize = std::env::args().nth(2).and_then(|a| a.parse().ok()).unwrap_or(1);
    let at: jiff::Timestamp = "2026-04-16T09:00:00Z".parse().expect("a time");
    let mut d = attendance::new_doc("E1", "s1", &doc::actor_for("k1"));
    d.update_diff_cursor();
    let mut saved = d.get_heads();
    let checkins = attendance::checkins_map(&mut d).expect("the skeleton has it");
    let mut t = [Duration::ZERO; 5];
    let block = 2_000;
    println!(
        "{:>7} {:>9} {:>9} {:>9} {:>9} {:>9}   µs per check-in",
        "count", "known", "put", "commit", "save_after", "diff"
    );
    let mut known = std::collections::HashSet::new();
    let mut i = 0;
    while i < n {
        let mut batch = Vec::with_capacity(per_change);
        for _ in 0..per_change {
            let c = CheckIn {
                id: format!("c{i:06}"),
                event_id: "E1".into(),
                session_id: "s1".into(),
                member_id: format!("m{:05}", i % 500),
                direction: Direction::In,
                at,
                method: Method::Badge,
                kiosk_id: "k1".into(),
                recorded_at: at,
            };
            let s = Instant::now();
            let new = known.insert(c.id.clone());
            t[0] += s.elapsed();
            assert!(new);
            batch.push(c);
            i += 1;
        }
        let s = Instant::now();
        attendance::insert_new(&mut d, &checkins, &batch).expect("writes");
        t[1] += s.elapsed();
        let s = Instant::now();
        d.commit();
        t[2] += s.elapsed();
        let s = Instant::now();
        let bytes = d.save_after(&saved);
        saved = d.get_heads();
        t[3] += s.elapsed();
        assert!(!bytes.is_empty());
        let s = Instant::now();
        let patches = d.diff_incremental();
        t[4] += s.elapsed();
        assert!(!patches.is_empty());
        if i % block == 0 {
            let us = |d: Duration| d.as_secs_f64() * 1e6 / block as f64;
            println!(
                "{i:>7} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>9.1}",
                us(t[0]),
                us(t[1]),
                us(t[2]),
                us(t[3]),
                us(t[4])
            );
            t = [Duration::ZERO; 5];
        }
    }
    let s = Instant::now();
    let all = d.save();
    println!(
        "saved document: {} bytes ({:.0} bytes per check-in), save {:?}",
        all.len(),
        all.len() as f64 / n as f64,
        s.elapsed()
    );
}
