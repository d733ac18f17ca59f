//! `cec-bench scale`: a central node holding N member portfolios and the attendance of many
//! events; how fast it starts, how much memory it holds, and how fast it answers a member's CEC
//! summary and attendance.
//!
//! Seeding runs in this process through the daemon's library (`cecd::node::Node`): the events
//! with their sessions and rosters, every session's check-ins through the node's batch check-in
//! path (`Node::record_checkins`, the path of `POST /v1/checkins/batch`), and each member's
//! portfolio in one change: the verified records written the way the central node's derivation
//! writes them (`cec_core::derive::derive` and `apply`), the member's name, self-documented
//! entries and a goal. The seeded data directory is kept under `--data-root`, one per dataset,
//! and reused by later runs.
//!
//! Measuring runs against a `cecd` child process on that directory, on 127.0.0.1.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use cec_core::event::{Endorsement, Policy, Provider, RosterMember, Segment, SegmentKind, Session, SessionFormat};
use cec_core::goals::{Benchmark, Goal};
use cec_core::portfolio::{Entry, EntryKind, Profile, VerifiedRecord};
use cec_core::{CheckIn, CreditRule, Direction, Event, Method};
use cecd::node::{NewCheckIn, Node as LibNode, NodeError};
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Method as HttpMethod, Request, StatusCode};
use rust_decimal::Decimal;

use crate::cecd::Node;
use crate::load;
use crate::machine::{self, Cpu};

/// Scale benchmark: a central node with many member portfolios and events.
///
/// For each member count N (`--members`), one after the other:
///
/// 1. Seed (or reuse) a central node's data directory under `--data-root`: `--events` events of
///    `--sessions` sessions (60, 75 or 90 minutes, six categories, a roster of the members who
///    attend), each member attending `--records` sessions (4 per event, one per time slot) with
///    in/out check-ins: most on time, some late beyond the grace, some leaving early, one in ten
///    without a checkout, a few doubled `in`s. Each member's portfolio gets the verified records
///    the central node derives from those check-ins, a name, `--entries` self-documented entries
///    (activities with self-reported CECs, experiences, work samples, a learning activity) and a
///    goal. Seeding is in-process through the daemon's library; its rate is reported. The
///    directory is complete only once `expected.tsv` (every member's expected credit) exists.
/// 2. Start the release `cecd` on it (`--listen 127.0.0.1:0`): cold start until `/v1/health`
///    answers and until the first CEC summary answers; RSS (`/proc/<pid>/status`) after start.
/// 3. `--reads` CEC summaries (`GET /v1/members/{id}/cecs`) of members drawn at random (fixed
///    seed), one at a time on one keep-alive connection: p50/p99/max; every answer's verified
///    and self-reported CECs are compared with what was seeded (a mismatch makes the run fail).
///    RSS again. Then as many attendance reads (`GET /v1/members/{id}/attendance`), RSS again.
///
/// Speed never fails the run; a wrong summary (exit 1) or a run that could not be done (exit 2)
/// does. The OS page cache is kept unless `--drop-caches` (root) drops it before each start: a
/// node started after a reboot reads every page from the disk, and the tail of the summaries
/// depends on it (BENCHMARKS.md, the scale section).
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub(crate) struct Args {
    /// Member counts, comma-separated; one dataset and one measurement each
    #[arg(long, value_delimiter = ',', default_value = "1000,10000,100000")]
    members: Vec<usize>,

    /// Events in every dataset
    #[arg(long, default_value_t = 500)]
    events: usize,

    /// Sessions per event (two parallel tracks)
    #[arg(long, default_value_t = 8)]
    sessions: usize,

    /// Sessions each member attends (4 per event), so about as many verified records
    #[arg(long, default_value_t = 20)]
    records: usize,

    /// Self-documented entries per member
    #[arg(long, default_value_t = 5)]
    entries: usize,

    /// Random members read per kind of read (summary, attendance)
    #[arg(long, default_value_t = 2000)]
    reads: usize,

    /// Where the seeded data directories are kept, one per dataset, reused by later runs
    #[arg(long)]
    data_root: PathBuf,

    /// Seed again even when a complete data directory for the dataset exists
    #[arg(long)]
    reseed: bool,

    /// Portfolios and sessions written concurrently while seeding
    #[arg(long, default_value_t = 64)]
    seed_concurrency: usize,

    /// The cecd binary [default: `cecd` in this program's own directory, e.g. target/release]
    #[arg(long)]
    cecd: Option<PathBuf>,

    /// How long one request may take
    #[arg(long, default_value = "60s", value_parser = crate::ingest::parse_duration)]
    request_timeout: Duration,

    /// Before each start of cecd, write dirty pages out and drop the OS page cache (`sync`, then
    /// `3` into /proc/sys/vm/drop_caches; needs root, and affects the whole machine), so the
    /// node reads its files from the disk as after a reboot
    #[arg(long)]
    drop_caches: bool,
}

/// Writes dirty pages out and drops the OS page cache, dentries and inodes (Linux, root).
fn drop_page_cache() -> anyhow::Result<()> {
    let synced = std::process::Command::new("sync").status().context("cannot run sync")?;
    ensure!(synced.success(), "sync failed: {synced}");
    std::fs::write("/proc/sys/vm/drop_caches", b"3")
        .context("--drop-caches: cannot write /proc/sys/vm/drop_caches (it needs root on Linux)")
}

/// Bump when the seeded content changes, so cached directories of the old shape are not reused.
/// 3: seeded by a node that stores decoded views beside events and portfolios with each change
/// (in a directory of an earlier version the measured reads would decode and store them).
/// 4: the check-ins are folded before the derivation's place is saved (in a directory of
/// version 3 the last of them were folded after it, and each start of the node derived them
/// again while it was measured).
const SEED_VERSION: u32 = 4;

/// The expected credit, written last: its presence marks a complete directory.
const EXPECTED_FILE: &str = "expected.tsv";

const CATEGORIES: [&str; 6] = ["general", "ethics", "supervision", "multicultural", "assessment", "technology"];
const TOPICS: [&str; 12] = [
    "Trauma-informed practice",
    "Ethics of telehealth",
    "Motivational interviewing",
    "Group counseling skills",
    "Assessment of suicide risk",
    "Cultural humility",
    "Clinical supervision models",
    "Substance use disorders",
    "Grief and loss",
    "Career development",
    "Couples and family systems",
    "Documentation and records",
];
const FIRST: [&str; 16] = [
    "Ana", "Ben", "Chloé", "Dmitri", "Esi", "Farah", "Gustavo", "Hana", "Ibrahim", "Jun", "Kateryna", "Luis", "Mei",
    "Nkechi", "Owen", "Priya",
];
const LAST: [&str; 16] = [
    "Okafor",
    "Schmidt",
    "Nguyen",
    "García",
    "Kowalski",
    "Haddad",
    "Johnson",
    "Tanaka",
    "Osei",
    "Rossi",
    "Lindqvist",
    "Moreau",
    "Petrov",
    "Singh",
    "Walker",
    "Zhou",
];

/// splitmix64: a fixed, well-mixed function of its input.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A small deterministic generator, so every seeding of a dataset writes the same content.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(mix(seed))
    }
    fn below(&mut self, n: u64) -> u64 {
        self.0 = mix(self.0);
        self.0 % n.max(1)
    }
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + i64::try_from(self.below(u64::try_from(hi - lo + 1).unwrap_or(1))).unwrap_or(0)
    }
}

/// The shape of one dataset.
#[derive(Debug, Clone, Copy)]
struct Shape {
    members: usize,
    events: usize,
    sessions: usize,
    records: usize,
    entries: usize,
}

impl Shape {
    fn dir_name(&self) -> String {
        format!(
            "scale-v{SEED_VERSION}-m{}-e{}-s{}-r{}-n{}",
            self.members, self.events, self.sessions, self.records, self.entries
        )
    }
    /// Sessions attended per event: one per time slot, at most 4.
    fn per_event(&self) -> usize {
        self.slots().clamp(1, 4)
    }
    fn slots(&self) -> usize {
        self.sessions.div_ceil(2).max(1)
    }
    fn events_per_member(&self) -> usize {
        self.records.div_ceil(self.per_event()).min(self.events)
    }
}

fn member_id(m: usize) -> String {
    format!("M{:07}", 1_000_003 + m)
}

fn member_name(m: usize) -> String {
    let r = mix(m as u64 ^ 0xA5A5);
    format!("{} {}", FIRST[(r % 16) as usize], LAST[((r >> 8) % 16) as usize])
}

fn event_id(e: usize) -> String {
    format!("conf-2026-{e:03}")
}

fn date(y: i16, m: i8, d: i8) -> jiff::civil::Date {
    jiff::civil::date(y, m, d)
}

/// Event `e` without roster: its provider, endorsement and sessions.
fn event(shape: &Shape, e: usize) -> anyhow::Result<Event> {
    let p = e % 40;
    let day = date(2026, 1, 5).checked_add(jiff::Span::new().days(i64::try_from((e * 17) % 350)?))?;
    // 09:00 in Chicago (UTC-6 in winter, -5 in summer): 15:00Z is near enough for a benchmark.
    let morning = jiff::tz::TimeZone::UTC.to_timestamp(day.at(15, 0, 0, 0))?;
    let mut sessions = BTreeMap::new();
    for s in 0..shape.sessions {
        let slot = s / 2;
        let starts_at = morning + jiff::SignedDuration::from_mins(i64::try_from(slot * 105)?);
        let (segments, format) = match (e + s) % 3 {
            0 => (vec![Segment::new(SegmentKind::Instruction, 60)], SessionFormat::InPerson),
            1 => (vec![Segment::new(SegmentKind::Instruction, 75)], SessionFormat::InPerson),
            _ => (
                vec![
                    Segment::new(SegmentKind::Instruction, 45),
                    Segment::new(SegmentKind::Break, 15),
                    Segment::new(SegmentKind::Practice, 30),
                ],
                if s % 5 == 4 { SessionFormat::OnlineLive } else { SessionFormat::InPerson },
            ),
        };
        let id = format!("s{s}");
        sessions.insert(
            id.clone(),
            Session {
                id,
                title: format!("{} ({})", TOPICS[(e * 7 + s) % TOPICS.len()], s + 1),
                category: CATEGORIES[(e + s * 5) % CATEGORIES.len()].into(),
                format,
                starts_at,
                segments,
            },
        );
    }
    Ok(Event {
        id: event_id(e),
        title: format!("Regional counseling conference {} ({e})", day.strftime("%B %Y")),
        provider: Provider {
            id: format!("prov-{p:02}"),
            name: format!("Counseling association chapter {p}"),
            endorsement: Some(Endorsement {
                number: format!("ACA-{:04}", 1000 + p),
                valid_from: date(2025, 7, 1),
                valid_until: date(2027, 6, 30),
            }),
        },
        venue: Some(format!("Convention center {}", e % 25)),
        timezone: "America/Chicago".into(),
        policy: Policy { grace_minutes: 5, full_attendance_required: false },
        sessions,
        roster: BTreeMap::new(),
    })
}

/// The events member `m` attends, distinct, with the sessions attended at each (one per slot).
fn attended(shape: &Shape, m: usize) -> Vec<(usize, Vec<usize>)> {
    let mut rng = Rng::new(m as u64 ^ 0x5EED_0001);
    let mut events: Vec<usize> = Vec::new();
    while events.len() < shape.events_per_member() {
        let e = usize::try_from(rng.below(shape.events as u64)).unwrap_or(0);
        if !events.contains(&e) {
            events.push(e);
        }
    }
    events.sort_unstable();
    let mut left = shape.records;
    events
        .into_iter()
        .map(|e| {
            let take = left.min(shape.per_event());
            left -= take;
            // `take` distinct slots, one of the two parallel sessions in each.
            let first = usize::try_from(rng.below(shape.slots() as u64)).unwrap_or(0);
            let sessions = (0..take)
                .map(|k| {
                    let slot = (first + k) % shape.slots();
                    (slot * 2 + usize::try_from(rng.below(2)).unwrap_or(0)).min(shape.sessions - 1)
                })
                .collect();
            (e, sessions)
        })
        .filter(|(_, s): &(usize, Vec<usize>)| !s.is_empty())
        .collect()
}

/// Member `m`'s check-ins at one session: an in (on time, late within or beyond the grace), an
/// out (at the end, or leaving early, or none), sometimes a doubled in.
fn checkins(ev: &Event, s: usize, m: usize) -> Vec<CheckIn> {
    let session = &ev.sessions[&format!("s{s}")];
    let span = session.span();
    let event_hash =
        ev.id.bytes().fold(0xCBF2_9CE4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01B3));
    let mut rng = Rng::new(mix(m as u64) ^ event_hash ^ ((s as u64) << 40));
    let mins = jiff::SignedDuration::from_mins;
    let late = match rng.below(100) {
        0..70 => rng.range(-5, 3),
        70..90 => rng.range(4, 10),
        _ => rng.range(11, 30),
    };
    let member = member_id(m);
    let method = if rng.below(4) == 0 { Method::Qr } else { Method::Badge };
    let kiosk = format!("kiosk-{}", rng.below(3) + 1);
    let one = |k: usize, direction: Direction, at: jiff::Timestamp| CheckIn {
        id: format!("{}.s{s}.{member}.{k}", ev.id),
        event_id: ev.id.clone(),
        session_id: session.id.clone(),
        member_id: member.clone(),
        direction,
        at,
        method,
        kiosk_id: kiosk.clone(),
        recorded_at: at,
    };
    let mut out = vec![one(0, Direction::In, span.start + mins(late))];
    if rng.below(100) < 3 {
        out.push(one(1, Direction::In, span.start + mins(late + 2)));
    }
    match rng.below(100) {
        0..75 => out.push(one(2, Direction::Out, span.end + mins(rng.range(0, 8)))),
        75..90 => out.push(one(2, Direction::Out, span.end - mins(rng.range(10, 40)))),
        _ => {} // no checkout
    }
    out
}

/// Member `m`'s self-documented entries and goal.
fn entries_and_goal(shape: &Shape, m: usize) -> (Vec<Entry>, Goal) {
    let mut rng = Rng::new(m as u64 ^ 0xE17E_0002);
    let kinds = [
        EntryKind::Activity,
        EntryKind::Experience,
        EntryKind::WorkSample,
        EntryKind::Activity,
        EntryKind::LearningActivity,
    ];
    let entries = (0..shape.entries)
        .map(|i| {
            let kind = kinds[i % kinds.len()];
            let day =
                date(2026, 1, 1).checked_add(jiff::Span::new().days(rng.range(0, 360))).unwrap_or(date(2026, 6, 1));
            let activity = kind == EntryKind::Activity;
            Entry {
                id: format!("entry-{i}"),
                kind,
                title: format!(
                    "{} {}",
                    match kind {
                        EntryKind::Activity => "Reading group:",
                        EntryKind::Experience => "Volunteer work:",
                        EntryKind::WorkSample => "Case write-up:",
                        _ => "Peer consultation:",
                    },
                    TOPICS[usize::try_from(rng.below(TOPICS.len() as u64)).unwrap_or(0)]
                ),
                description: Some("Documented for the portfolio; notes and evidence kept by the member.".into()),
                date: day,
                // Self-reported CECs in quarters: 0.5 to 3.
                cecs: activity.then(|| Decimal::new(rng.range(2, 12) * 25, 2)),
                contact_minutes: activity.then(|| u32::try_from(rng.range(30, 180)).unwrap_or(60)),
                category: activity.then(|| CATEGORIES[usize::try_from(rng.below(6)).unwrap_or(0)].to_owned()),
                provider: None,
                evidence: Vec::new(),
            }
        })
        .collect();
    let goal = Goal {
        id: "renewal-2027".into(),
        title: "License renewal".into(),
        target_cecs: Decimal::from(40),
        category: None,
        start: Some(date(2026, 1, 1)),
        due: date(2027, 12, 31),
        benchmarks: vec![Benchmark {
            title: "Half way".into(),
            target_cecs: Decimal::from(20),
            due: date(2026, 12, 31),
        }],
    };
    (entries, goal)
}

/// What a member's CEC summary must say.
#[derive(Debug, Clone)]
struct Expected {
    member: String,
    verified: Decimal,
    self_reported: Decimal,
    records: usize,
}

/// What seeding did, or that the directory was reused.
#[derive(Debug, Default)]
struct Seeded {
    reused: bool,
    checkins: u64,
    portfolios: u64,
    events_s: f64,
    checkins_s: f64,
    portfolios_s: f64,
    bytes: u64,
}

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|rd| rd.flatten().filter_map(|e| e.metadata().ok()).filter(|m| m.is_file()).map(|m| m.len()).sum())
        .unwrap_or(0)
}

fn read_expected(dir: &Path) -> anyhow::Result<Vec<Expected>> {
    let text = std::fs::read_to_string(dir.join(EXPECTED_FILE))?;
    let mut out = Vec::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        ensure!(f.len() == 4, "bad line in {EXPECTED_FILE}: {line:?}");
        out.push(Expected {
            member: f[0].to_owned(),
            verified: f[1].parse()?,
            self_reported: f[2].parse()?,
            records: f[3].parse()?,
        });
    }
    Ok(out)
}

/// Seeds `dir` in this process through the daemon's library; returns the expected credit.
/// Prints how far a seeding step got, at each tenth of it (a 100,000-member dataset takes
/// minutes).
struct Progress {
    what: &'static str,
    total: usize,
    done: usize,
    started: Instant,
}

impl Progress {
    fn new(what: &'static str, total: usize) -> Self {
        Self { what, total, done: 0, started: Instant::now() }
    }

    fn add(&mut self, n: usize) {
        let tenth = self.total.div_ceil(10).max(1);
        let before = self.done / tenth;
        self.done += n;
        if self.done / tenth > before || self.done == self.total {
            let secs = self.started.elapsed().as_secs_f64();
            eprintln!(
                "  {}: {}/{} in {secs:.1} s ({:.0}/s)",
                self.what,
                self.done,
                self.total,
                self.done as f64 / secs.max(1e-9)
            );
        }
    }
}

async fn seed(shape: Shape, dir: &Path, concurrency: usize) -> anyhow::Result<(Seeded, Vec<Expected>)> {
    let identity = cecd::node::Identity::load_or_create(dir)?;
    cecd::node::credential::Enrolment::init_central(
        dir,
        "Scale benchmark association",
        identity.signing_key(),
        jiff::Timestamp::now(),
    )?;
    drop(identity);
    let node = Arc::new(LibNode::open(dir, cecd::config::Config::default()).await?);
    let mut seeded = Seeded::default();

    // Who attends what.
    let mut attendees: Vec<Vec<usize>> = vec![Vec::new(); shape.events];
    for m in 0..shape.members {
        for (e, _) in attended(&shape, m) {
            attendees[e].push(m);
        }
    }

    // 1. Events: fields, sessions and roster in one change each.
    let t = Instant::now();
    let mut events = Vec::with_capacity(shape.events);
    let mut progress = Progress::new("events", shape.events);
    for (e, who) in attendees.iter().enumerate() {
        let ev = event(&shape, e)?;
        let roster: Vec<RosterMember> =
            who.iter().map(|&m| RosterMember { member_id: member_id(m), name: member_name(m), email: None }).collect();
        let id = cec_core::doc::DocId::event(&ev.id);
        let ev2 = ev.clone();
        node.docs
            .update(&id, move |d| {
                cec_core::doc::event::put_event(d, &ev2)?;
                for s in ev2.sessions.values() {
                    cec_core::doc::event::put_session(d, s)?;
                }
                for r in &roster {
                    cec_core::doc::event::put_roster_member(d, r)?;
                }
                Ok::<_, NodeError>(())
            })
            .await?;
        events.push(node.require_event(&ev.id).await?);
        progress.add(1);
    }
    seeded.events_s = t.elapsed().as_secs_f64();

    // 2. Check-ins: one batch per session, many sessions at once (the batch check-in path).
    let t = Instant::now();
    let sem = Arc::new(tokio::sync::Semaphore::new(concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    let mut progress = Progress::new("events' check-ins queued", shape.events);
    for (e, who) in attendees.iter().enumerate() {
        progress.add(1);
        let ev = events[e].clone();
        let mut by_session: BTreeMap<usize, Vec<CheckIn>> = BTreeMap::new();
        for &m in who {
            for (_, sessions) in attended(&shape, m).into_iter().filter(|(x, _)| *x == e) {
                for s in sessions {
                    by_session.entry(s).or_default().extend(checkins(&ev, s, m));
                }
            }
        }
        for (s, cs) in by_session {
            seeded.checkins += cs.len() as u64;
            let permit = sem.clone().acquire_owned().await?;
            let (node, ev) = (node.clone(), ev.clone());
            tasks.spawn(async move {
                let items =
                    cs.into_iter().map(|checkin| NewCheckIn { checkin, at_given: true, method_given: true }).collect();
                let answers = node.record_checkins(&ev, &format!("s{s}"), items).await?;
                drop(permit);
                for a in answers {
                    a?;
                }
                anyhow::Ok(())
            });
        }
        while let Some(done) = tasks.try_join_next() {
            done??;
        }
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    // Acknowledged check-ins wait in the node's log; fold them all into their documents now,
    // so that their feed entries come before the derivation's place saved below (folded after
    // it, they would be derived again at every start of the measured node).
    node.fold_logged().await;
    ensure!(node.checkins_in_log() == 0, "{} check-ins still in the log after the fold", node.checkins_in_log());
    seeded.checkins_s = t.elapsed().as_secs_f64();

    // 3. Portfolios: derived records (as the central node derives and writes them), the name,
    //    entries and a goal, one change per member.
    let t = Instant::now();
    let events = Arc::new(events);
    let mut expected = Vec::with_capacity(shape.members);
    let mut results = tokio::task::JoinSet::new();
    let mut progress = Progress::new("portfolios", shape.members);
    for m in 0..shape.members {
        let permit = sem.clone().acquire_owned().await?;
        let (node, events) = (node.clone(), events.clone());
        results.spawn(async move {
            let member = member_id(m);
            let mut per_event: Vec<(String, Vec<VerifiedRecord>)> = Vec::new();
            for (e, sessions) in attended(&shape, m) {
                let ev = &events[e];
                let cs: Vec<CheckIn> = sessions.iter().flat_map(|&s| checkins(ev, s, m)).collect();
                let mut derived = cec_core::derive::derive(ev, &cs, &CreditRule::aca());
                per_event.push((ev.id.clone(), derived.remove(&member).unwrap_or_default()));
            }
            let (entries, goal) = entries_and_goal(&shape, m);
            let verified: Decimal = per_event.iter().flat_map(|(_, r)| r).map(|r| r.cecs).sum();
            let records = per_event.iter().map(|(_, r)| r.len()).sum();
            let self_reported: Decimal = entries.iter().filter_map(Entry::self_reported_cecs).sum();
            let profile =
                Profile { name: Some(member_name(m)), email: Some(format!("{}@example.org", member.to_lowercase())) };
            node.docs
                .update(&cec_core::doc::DocId::portfolio(member.as_str()), move |d| {
                    cec_core::doc::portfolio::put_profile(d, &profile)?;
                    for (event_id, records) in &per_event {
                        cec_core::derive::apply(d, event_id, records)?;
                    }
                    for e in &entries {
                        cec_core::doc::portfolio::put_entry(d, e)?;
                    }
                    cec_core::doc::portfolio::put_goal(d, &goal)?;
                    Ok::<_, NodeError>(())
                })
                .await?;
            drop(permit);
            anyhow::Ok(Expected { member, verified, self_reported, records })
        });
        while let Some(done) = results.try_join_next() {
            expected.push(done??);
            progress.add(1);
        }
    }
    while let Some(done) = results.join_next().await {
        expected.push(done??);
        progress.add(1);
    }
    seeded.portfolios = expected.len() as u64;
    seeded.portfolios_s = t.elapsed().as_secs_f64();
    // The portfolios hold what derivation would write from these check-ins: say so, as a
    // central node that kept up with its feed would have.
    let latest = node.store.read(cecd::storage::latest_change_seq).await?;
    node.set_derivation_cursor(latest).await?;
    node.close().await;
    drop(node);

    expected.sort_by(|a, b| a.member.cmp(&b.member));
    let mut tsv = String::from("member_id\tverified_cecs\tself_reported_cecs\tverified_records\n");
    for x in &expected {
        writeln!(tsv, "{}\t{}\t{}\t{}", x.member, x.verified.normalize(), x.self_reported.normalize(), x.records)?;
    }
    // Written last, through a rename: its presence says the directory is complete.
    let tmp = dir.join(format!("{EXPECTED_FILE}.tmp"));
    std::fs::write(&tmp, tsv)?;
    std::fs::rename(&tmp, dir.join(EXPECTED_FILE))?;
    seeded.bytes = dir_bytes(dir);
    Ok((seeded, expected))
}

/// The seeded directory of `shape`, seeding it if it is missing or incomplete.
fn prepare(shape: Shape, args: &Args) -> anyhow::Result<(PathBuf, Seeded, Vec<Expected>)> {
    let dir = args.data_root.join(shape.dir_name());
    if !args.reseed && dir.join(EXPECTED_FILE).is_file() {
        let expected = read_expected(&dir)?;
        let seeded =
            Seeded { reused: true, bytes: dir_bytes(&dir), portfolios: expected.len() as u64, ..Seeded::default() };
        return Ok((dir, seeded, expected));
    }
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("cannot remove the incomplete {}", dir.display()))?;
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    eprintln!("seeding {} (members {}, events {}) ...", dir.display(), shape.members, shape.events);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let (seeded, expected) = runtime.block_on(seed(shape, &dir, args.seed_concurrency))?;
    runtime.shutdown_timeout(Duration::from_secs(10));
    Ok((dir, seeded, expected))
}

/// How many change-feed entries of the data directory `dir` the central node's derivation has
/// not gone through: 0 for a directory seeded as a central node that kept up with its feed
/// would be (otherwise the measured node derives while it is measured).
fn derive_left(dir: &Path) -> anyhow::Result<i64> {
    let path = dir.join("cecd.sqlite3");
    let c = rusqlite::Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .with_context(|| format!("cannot open {}", path.display()))?;
    let latest = cecd::storage::latest_change_seq(&c)?;
    let cursor = cecd::storage::feed_cursor(&c, cecd::node::DERIVATION_CURSOR)?.unwrap_or(0);
    Ok(latest - cursor)
}

/// `VmRSS` and `VmHWM` of a process, in MiB.
fn rss(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Latencies of one kind of read.
struct Reads {
    hist: hdrhistogram::Histogram<u64>,
    /// Each read's latency in µs, in the order made.
    each: Vec<u64>,
    wall: Duration,
    cpu: Option<Duration>,
}

impl Reads {
    fn new() -> anyhow::Result<Self> {
        Ok(Self { hist: hdrhistogram::Histogram::new(3)?, each: Vec::new(), wall: Duration::ZERO, cpu: None })
    }

    fn record(&mut self, took: Duration) -> anyhow::Result<()> {
        let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.each.push(us);
        Ok(self.hist.record(us)?)
    }

    /// Where the slowest 1 % of the reads fell in the run: how many there are, and how many of
    /// them came in each tenth of the reads (a tail made by the first reads after a start
    /// shows in the first tenth).
    fn slowest_by_tenth(&self) -> (usize, [usize; 10]) {
        let n = self.each.len();
        let k = n.div_ceil(100);
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(self.each[i]));
        let mut tenths = [0; 10];
        for &i in &order[..k] {
            tenths[(i * 10 / n.max(1)).min(9)] += 1;
        }
        (k, tenths)
    }

    fn ms(&self, q: f64) -> f64 {
        self.hist.value_at_quantile(q) as f64 / 1000.0
    }
    fn max_ms(&self) -> f64 {
        self.hist.max() as f64 / 1000.0
    }
}

/// One row of results.
struct Row {
    shape: Shape,
    seeded: Seeded,
    checkins_stored: Option<u64>,
    derive_left: i64,
    health_ms: f64,
    first_summary_ms: f64,
    rss_start: (f64, f64),
    rss_summaries: (f64, f64),
    rss_attendance: (f64, f64),
    summaries: Reads,
    attendance: Reads,
    mismatches: usize,
    first_mismatch: Option<String>,
    attendance_items: usize,
}

fn request(node: &Node, path: &str) -> anyhow::Result<Request<Full<Bytes>>> {
    Ok(Request::builder()
        .method(HttpMethod::GET)
        .uri(path)
        .header(hyper::header::HOST, node.addr.to_string())
        .header(hyper::header::AUTHORIZATION, format!("Bearer {}", node.token))
        .body(Full::new(Bytes::new()))?)
}

/// Compares a summary with the seeded credit; `None` when it matches.
fn check_summary(body: &[u8], x: &Expected) -> Option<String> {
    let v: serde_json::Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => return Some(format!("{}: not JSON: {e}", x.member)),
    };
    let dec = |k: &str| v[k].as_str().and_then(|s| s.parse::<Decimal>().ok());
    let records = v["records"].as_array().map_or(0, |r| r.iter().filter(|r| r["source"] == "verified").count());
    if dec("verified_cecs") != Some(x.verified)
        || dec("self_reported_cecs") != Some(x.self_reported)
        || records != x.records
    {
        return Some(format!(
            "{}: verified {} self-reported {} ({} verified records), seeded {} / {} ({} records)",
            x.member, v["verified_cecs"], v["self_reported_cecs"], records, x.verified, x.self_reported, x.records
        ));
    }
    None
}

async fn measure(
    bin: &Path,
    dir: &Path,
    shape: Shape,
    seeded: Seeded,
    expected: &[Expected],
    args: &Args,
) -> anyhow::Result<Row> {
    ensure!(!expected.is_empty(), "no members seeded");
    let log = dir.with_extension("log");
    let timeout = args.request_timeout;
    let derive_left = derive_left(dir)?;
    if args.drop_caches {
        drop_page_cache()?;
    }
    let t0 = Instant::now();
    let node = Node::start(bin, dir, &log, timeout).await?;
    let pid = node.pid().context("cecd has no pid")?;
    // Until /v1/health answers.
    let mut sender = loop {
        if let Ok(mut s) = load::connect(node.addr, timeout).await
            && let Ok((StatusCode::OK, _)) = load::exchange(&mut s, request(&node, "/v1/health")?).await
        {
            break s;
        }
        ensure!(t0.elapsed() < Duration::from_secs(60), "cecd did not answer /v1/health within 60 s");
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    let health_ms = t0.elapsed().as_secs_f64() * 1000.0;
    let mut rng = Rng::new(0x00C0_FFEE ^ shape.members as u64);
    let pick = |rng: &mut Rng| &expected[usize::try_from(rng.below(expected.len() as u64)).unwrap_or(0)];
    let first = pick(&mut rng);
    let (status, body) =
        load::exchange(&mut sender, request(&node, &format!("/v1/members/{}/cecs", first.member))?).await?;
    let first_summary_ms = t0.elapsed().as_secs_f64() * 1000.0;
    ensure!(status == StatusCode::OK, "first summary: {status}: {}", String::from_utf8_lossy(&body));
    let mut mismatches = 0;
    let mut first_mismatch = check_summary(&body, first);
    mismatches += usize::from(first_mismatch.is_some());
    let rss_start = rss(pid);
    let cpu = Cpu::Process(pid);

    let mut summaries = Reads::new()?;
    let (c0, w0) = (cpu.read(), Instant::now());
    for _ in 0..args.reads {
        let x = pick(&mut rng);
        let t = Instant::now();
        let (status, body) =
            load::exchange(&mut sender, request(&node, &format!("/v1/members/{}/cecs", x.member))?).await?;
        summaries.record(t.elapsed())?;
        ensure!(status == StatusCode::OK, "summary of {}: {status}", x.member);
        if let Some(m) = check_summary(&body, x) {
            mismatches += 1;
            first_mismatch.get_or_insert(m);
        }
    }
    summaries.wall = w0.elapsed();
    summaries.cpu = cpu.read().zip(c0).map(|(b, a)| b.saturating_sub(a));
    let rss_summaries = rss(pid);

    let mut attendance = Reads::new()?;
    let mut attendance_items = 0;
    let (c0, w0) = (cpu.read(), Instant::now());
    for _ in 0..args.reads {
        let x = pick(&mut rng);
        let t = Instant::now();
        let (status, body) =
            load::exchange(&mut sender, request(&node, &format!("/v1/members/{}/attendance", x.member))?).await?;
        attendance.record(t.elapsed())?;
        ensure!(status == StatusCode::OK, "attendance of {}: {status}", x.member);
        let v: serde_json::Value = serde_json::from_slice(&body)?;
        attendance_items += v["items"].as_array().map_or(0, Vec::len);
    }
    attendance.wall = w0.elapsed();
    attendance.cpu = cpu.read().zip(c0).map(|(b, a)| b.saturating_sub(a));
    let rss_attendance = rss(pid);
    let checkins_stored = node.stored_metric().await.ok().flatten();
    drop(sender);
    node.kill().await?;
    Ok(Row {
        shape,
        seeded,
        checkins_stored,
        derive_left,
        health_ms,
        first_summary_ms,
        rss_start,
        rss_summaries,
        rss_attendance,
        summaries,
        attendance,
        mismatches,
        first_mismatch,
        attendance_items,
    })
}

fn cpu_per_read(r: &Reads, n: usize) -> String {
    r.cpu.map_or_else(|| "?".to_owned(), |c| format!("{:.2}", c.as_secs_f64() * 1000.0 / n.max(1) as f64))
}

/// Runs the benchmark; `Ok(false)` when a summary did not match what was seeded.
pub(crate) fn main(args: &Args) -> anyhow::Result<bool> {
    ensure!(
        args.sessions >= 1 && args.events >= 1 && args.records >= 1,
        "--sessions, --events and --records must be at least 1"
    );
    ensure!(args.reads >= 1, "--reads must be at least 1");
    let cecd = match &args.cecd {
        Some(p) => p.clone(),
        None => std::env::current_exe()?
            .parent()
            .map(|p| p.join(format!("cecd{}", std::env::consts::EXE_SUFFIX)))
            .context("cannot place the cecd binary")?,
    };
    ensure!(
        cecd.is_file(),
        "no cecd binary at {}: build it (`cargo build --release -p cecd -p cec-bench`) or pass --cecd",
        cecd.display()
    );
    std::fs::create_dir_all(&args.data_root).with_context(|| format!("cannot create {}", args.data_root.display()))?;
    let started = jiff::Timestamp::now();
    let load_before = machine::loadavg();
    let mut rows = Vec::new();
    for &members in &args.members {
        ensure!(members >= 1, "--members must be at least 1");
        let shape = Shape {
            members,
            events: args.events,
            sessions: args.sessions,
            records: args.records,
            entries: args.entries,
        };
        let (dir, seeded, expected) = prepare(shape, args)?;
        eprintln!(
            "{} {} ({:.0} MiB); measuring ...",
            if seeded.reused { "reusing the seeded" } else { "seeded" },
            dir.display(),
            seeded.bytes as f64 / 1048576.0
        );
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        rows.push(runtime.block_on(measure(&cecd, &dir, shape, seeded, &expected, args))?);
    }

    let mut out = String::new();
    writeln!(out, "# cec-bench scale, {started}")?;
    writeln!(out, "machine: {}", machine::describe())?;
    writeln!(out, "load average (1, 5, 15 min): {load_before} before, {} after", machine::loadavg())?;
    writeln!(out, "cecd: {}", cecd.display())?;
    writeln!(
        out,
        "OS page cache: {}",
        if args.drop_caches {
            "dropped before each start of cecd (--drop-caches): files read from the disk"
        } else {
            "kept (files the OS still holds are read from memory; --drop-caches for a start as after a reboot)"
        }
    )?;
    writeln!(
        out,
        "dataset: {} events × {} sessions; each member attends {} sessions ({} events) and has {} entries and a goal; {} random reads of each kind",
        args.events,
        args.sessions,
        args.records,
        args.records.div_ceil(args.sessions.div_ceil(2).clamp(1, 4)),
        args.entries,
        args.reads
    )?;
    writeln!(out)?;
    writeln!(out, "Seeding (in-process, `cecd::node::Node`):")?;
    writeln!(out)?;
    writeln!(
        out,
        "| members | data dir | events s | check-ins | check-ins s | check-ins/s | portfolios | portfolios s | portfolios/s | data MiB |"
    )?;
    writeln!(out, "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")?;
    for r in &rows {
        let s = &r.seeded;
        if s.reused {
            writeln!(
                out,
                "| {} | reused (seeded earlier) | – | {} | – | – | {} | – | – | {:.0} |",
                r.shape.members,
                r.checkins_stored.map_or_else(|| "?".to_owned(), |c| c.to_string()),
                s.portfolios,
                s.bytes as f64 / 1048576.0
            )?;
        } else {
            writeln!(
                out,
                "| {} | seeded now | {:.1} | {} | {:.1} | {:.0} | {} | {:.1} | {:.0} | {:.0} |",
                r.shape.members,
                s.events_s,
                s.checkins,
                s.checkins_s,
                s.checkins as f64 / s.checkins_s.max(1e-9),
                s.portfolios,
                s.portfolios_s,
                s.portfolios as f64 / s.portfolios_s.max(1e-9),
                s.bytes as f64 / 1048576.0
            )?;
        }
    }
    writeln!(out)?;
    writeln!(out, "Reads against the cecd child process (one keep-alive connection, one request at a time):")?;
    writeln!(out)?;
    writeln!(
        out,
        "| members | start → health ms | start → 1st summary ms | RSS MiB after start | after summaries | after attendance | VmHWM MiB | summary p50 ms | p99 | max | node CPU ms/summary | attendance p50 ms | p99 | max | node CPU ms/attendance | items/attendance | summary mismatches |"
    )?;
    writeln!(out, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")?;
    let mut ok = true;
    let mut tails = String::new();
    for r in &rows {
        writeln!(
            out,
            "| {} | {:.0} | {:.0} | {:.1} | {:.1} | {:.1} | {:.1} | {:.2} | {:.2} | {:.2} | {} | {:.2} | {:.2} | {:.2} | {} | {:.1} | {} |",
            r.shape.members,
            r.health_ms,
            r.first_summary_ms,
            r.rss_start.0,
            r.rss_summaries.0,
            r.rss_attendance.0,
            r.rss_attendance.1,
            r.summaries.ms(0.5),
            r.summaries.ms(0.99),
            r.summaries.max_ms(),
            cpu_per_read(&r.summaries, args.reads),
            r.attendance.ms(0.5),
            r.attendance.ms(0.99),
            r.attendance.max_ms(),
            cpu_per_read(&r.attendance, args.reads),
            r.attendance_items as f64 / args.reads as f64,
            r.mismatches,
        )?;
        let _ = (r.summaries.wall, r.attendance.wall);
        writeln!(
            tails,
            "at {} members, change-feed entries the node had left to derive at its start: {}",
            r.shape.members, r.derive_left
        )?;
        for (kind, reads) in [("summaries", &r.summaries), ("attendance reads", &r.attendance)] {
            let (k, tenths) = reads.slowest_by_tenth();
            let tenths: Vec<String> = tenths.iter().map(usize::to_string).collect();
            writeln!(
                tails,
                "at {} members, the slowest {k} {kind} (1 %) by tenth of the run, first to last: {}",
                r.shape.members,
                tenths.join(" ")
            )?;
        }
        if let Some(m) = &r.first_mismatch {
            ok = false;
            writeln!(out, "FIRST MISMATCH at {} members: {m}", r.shape.members)?;
        }
    }
    print!("{out}\n{tails}");
    if ok {
        println!("\nsummaries: all match the seeded credit");
    }
    Ok(ok)
}
