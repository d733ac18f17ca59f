//! The `cec` command line against a real `cecd`: the users' tasks from `docs/users.md`, exit
//! codes and error messages. Every node listens on 127.0.0.1:0 with a temporary data directory.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use cec_e2e::Node;
use serde_json::Value;

/// The `cec` binary: `$CEC_BIN` if set, else the workspace's own, from the same build as
/// `cecd` (one `cargo build --workspace --bins` per test binary).
fn cec_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| std::env::var_os("CEC_BIN").map_or_else(|| cec_e2e::workspace_bin("cec"), PathBuf::from))
}

/// What one `cec` run did.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn ok(self) -> String {
        assert_eq!(self.code, 0, "cec failed: {self:?}");
        self.stdout
    }

    fn json(self) -> Value {
        let out = self.ok();
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
    }

    fn fails(self, code: i32) -> String {
        assert_eq!(self.code, code, "expected exit {code}: {self:?}");
        self.stderr
    }
}

fn command(data_dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(cec_bin());
    cmd.arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("CEC_URL")
        .env_remove("CECD_DATA_DIR")
        .env_remove("XDG_DATA_HOME")
        .stdin(Stdio::null());
    cmd
}

fn cec(node: &Node, args: &[&str]) -> Run {
    cec_in(&node.data_dir(), args)
}

fn cec_in(data_dir: &Path, args: &[&str]) -> Run {
    let out = command(data_dir, args).output().expect("running cec");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// An endorsed event in Chicago with a 90-minute workshop (1.5 CECs at most) and the seed's
/// lunch keynote, and two members on the roster (one from a CSV file).
fn conference(node: &Node) {
    let out = cec(
        node,
        &[
            "event",
            "create",
            "--id",
            "conf",
            "--title",
            "Annual Conference",
            "--provider-id",
            "P1",
            "--provider-name",
            "ACA",
            "--endorsement",
            "ACA-1",
            "--endorsed-from",
            "2026-01-01",
            "--endorsed-until",
            "2026-12-31",
            "--timezone",
            "America/Chicago",
            "--venue",
            "Hall A",
        ],
    )
    .ok();
    assert!(out.contains("conf: Annual Conference") && out.contains("endorsement ACA-1"), "{out}");
    let out = cec(
        node,
        &[
            "session",
            "add",
            "conf",
            "--id",
            "ws",
            "--title",
            "Workshop",
            "--starts-at",
            "2026-05-01T09:00",
            "--segment",
            "instruction:60",
            "--segment",
            "practice:30",
            "--category",
            "ethics",
        ],
    )
    .ok();
    // 09:00 in Chicago (CDT) is 14:00 UTC.
    assert!(out.contains("2026-05-01T14:00:00Z") && out.contains("at most 1.5 CEC"), "{out}");
    let lunch = cec(
        node,
        &[
            "--json",
            "session",
            "add",
            "conf",
            "--id",
            "lunch",
            "--title",
            "Lunch keynote",
            "--starts-at",
            "2026-05-01T12:00:00-05:00",
            "--segment",
            "meal:30,keynote:30,meal:30",
        ],
    )
    .json();
    assert_eq!((lunch["max_cecs"].as_str(), lunch["creditable_minutes"].as_u64()), (Some("0.5"), Some(30)));
    let roster = node.data_dir().join("roster.csv");
    std::fs::write(&roster, "member_id,name,email\nM2,\"Chen, Bo\",bo@example.org\n").expect("roster");
    assert!(cec(node, &["roster", "add", "conf", "M1", "Ann Lee"]).ok().contains("added Ann Lee (M1)"));
    let roster = roster.to_str().expect("utf-8 path");
    assert!(
        cec(node, &["roster", "add", "conf", "--file", roster]).ok().contains("added 1 member to the roster of conf")
    );
}

#[test]
fn organizer_door_and_credit() {
    let node = Node::start();
    conference(&node);

    let node_id = node.get("/v1/node").expect(200)["node_id"].as_str().expect("node_id").to_owned();
    let status = cec(&node, &["status"]).ok();
    assert!(status.contains(&node_id) && status.contains(&node.addr().to_string()), "{status}");
    let listed = cec(&node, &["--json", "event", "list"]).json();
    assert_eq!(listed["items"][0]["roster_count"], 2);
    let shown = cec(&node, &["event", "show", "conf"]).ok();
    assert!(shown.contains("Workshop") && shown.contains("Lunch keynote"), "{shown}");
    // Times on the event's clocks, named; --json keeps UTC.
    assert!(shown.contains("2026-05-01 09:00:00 CDT") && shown.contains("STARTS (AMERICA/CHICAGO)"), "{shown}");

    let scan_in = cec(&node, &["checkin", "in", "conf", "ws", "M1", "--at", "2026-05-01T09:00"]);
    assert_eq!(scan_in.code, 0, "{scan_in:?}");
    assert!(scan_in.stdout.contains("in: Ann Lee (M1)"), "{scan_in:?}");
    assert!(scan_in.stdout.contains("2026-05-01 09:00:00 CDT (2026-05-01T14:00:00Z)"), "{scan_in:?}");
    assert!(scan_in.stderr.is_empty(), "{scan_in:?}");
    let stranger = cec(&node, &["checkin", "in", "conf", "ws", "M9", "--at", "2026-05-01T09:00", "--method", "badge"]);
    assert_eq!(stranger.code, 0, "accepted anyway: {stranger:?}");
    assert!(
        stranger.stderr.contains("not on the roster") && stranger.stderr.contains("unknown_member"),
        "{stranger:?}"
    );
    // 75 of 90 creditable minutes: 1.25 CEC, and the reason why not 1.5.
    let out = cec(&node, &["checkin", "out", "conf", "ws", "M1", "--at", "2026-05-01T10:15"]).ok();
    assert!(
        out.contains("out: Ann Lee (M1)") && out.contains("earns 1.25 CEC for Workshop (at most 1.5 CEC)"),
        "{out}"
    );
    assert!(out.lines().count() >= 3, "a reason line: {out}");

    let attendance = cec(&node, &["--json", "attendance", "M1", "--event", "conf"]).json();
    assert_eq!(attendance["items"][0]["cecs"], "1.25");
    assert_eq!(attendance["items"][0]["verified"], true);
    let human = cec(&node, &["attendance", "M1"]).ok();
    assert!(human.contains("1.25 of 1.5 CEC"), "{human}");
    let cecs = cec(&node, &["cecs", "M1", "--from", "2026-01-01", "--to", "2026-12-31"]).ok();
    assert!(cecs.contains("verified       1.25 CEC") && cecs.contains("ethics"), "{cecs}");
    assert_eq!(cec(&node, &["--json", "cecs", "M1"]).json()["total_cecs"], "1.25");
    let checkins = cec(&node, &["--json", "checkins", "--event", "conf", "--session", "ws"]).json();
    assert_eq!(checkins["items"].as_array().map(Vec::len), Some(3));
    assert_eq!(checkins["items"][0]["at"], "2026-05-01T14:00:00Z");
    let table = cec(&node, &["checkins", "--member", "M1"]).ok();
    assert!(table.contains("2026-05-01 10:15:00 CDT") && !table.contains("T15:15:00Z"), "{table}");
    let table = cec(&node, &["checkins", "--member", "M9"]).ok();
    assert!(table.contains("unknown_member") && !table.contains("Ann Lee"), "{table}");
}

/// `cec checkin void`: a mistaken out-scan voided, the credit back to what the member attended,
/// the scan still listed as voided; and `cec open` prints a one-time link, never the token.
#[test]
fn void_a_scan_and_open_the_kiosk() {
    let node = Node::start();
    conference(&node);
    cec(&node, &["checkin", "in", "conf", "ws", "M1", "--at", "2026-05-01T09:00", "--id", "a"]).ok();
    cec(&node, &["checkin", "out", "conf", "ws", "M1", "--at", "2026-05-01T09:20", "--id", "oops"]).ok();
    cec(&node, &["checkin", "out", "conf", "ws", "M1", "--at", "2026-05-01T10:15", "--id", "b"]).ok();
    assert_eq!(cec(&node, &["--json", "attendance", "M1"]).json()["items"][0]["cecs"], "0.25");
    let out = cec(&node, &["checkin", "void", "oops", "--reason", "scanned out by mistake"]).ok();
    assert!(out.contains("voided: out Ann Lee (M1)") && out.contains("scanned out by mistake"), "{out}");
    assert_eq!(cec(&node, &["--json", "attendance", "M1"]).json()["items"][0]["cecs"], "1.25");
    let again = cec(&node, &["--json", "checkin", "void", "oops"]).json();
    assert_eq!(again["voided"]["reason"], "scanned out by mistake", "the first void stands");
    let listed = cec(&node, &["--json", "checkins", "--member", "M1"]).json();
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(3));
    let err = cec(&node, &["checkin", "void", "nope"]).fails(1);
    assert!(err.contains("no check-in"), "{err}");

    let out = cec(&node, &["open", "kiosk", "--no-browser"]).ok();
    let link = out.lines().next().unwrap_or_default().to_owned();
    assert!(link.starts_with(&format!("http://{}/open?ticket=", node.addr())), "{out}");
    assert!(!out.contains(node.token()), "{out}");
    let path = link.trim_start_matches(&format!("http://{}", node.addr())).to_owned();
    let opened = node.request("GET", &path).send();
    assert_eq!(opened.status, 303);
    assert!(opened.header("set-cookie").is_some_and(|c| c.contains("HttpOnly")));
}

#[test]
fn kiosk_import_in_chunks_is_idempotent() {
    let node = Node::start();
    conference(&node);
    let mut csv = String::from("event_id,session_id,member_id,direction,at\n");
    for i in 0..2300 {
        csv.push_str(&format!("conf,ws,M{i},in,2026-05-01T14:0{}:00Z\n", i % 10));
    }
    let file = node.data_dir().join("scans.csv");
    std::fs::write(&file, &csv).expect("csv");
    let file = file.to_str().expect("utf-8 path");

    let first = cec(&node, &["checkin", "import", file]).ok();
    assert!(first.contains("2300 check-ins: 2300 stored, 0 already there, 0 refused"), "{first}");
    let again = cec(&node, &["checkin", "import", file]).ok();
    assert!(again.contains("0 stored, 2300 already there"), "{again}");
    let all = cec(&node, &["--json", "checkins", "--session", "ws"]).json();
    assert_eq!(all["items"].as_array().map(Vec::len), Some(2300), "every page was followed");

    let bad = node.data_dir().join("bad.csv");
    std::fs::write(&bad, "event_id,session_id,member_id,direction,at\nconf,ws,X1,in,2026-05-01T14:00:00Z\nconf,ws,X2,sideways,2026-05-01T14:00:00Z\n")
        .expect("csv");
    let err = cec(&node, &["checkin", "import", bad.to_str().expect("path")]).fails(1);
    assert!(err.contains("line 3") && err.contains("nothing imported"), "{err}");
    assert_eq!(cec(&node, &["--json", "checkins", "--member", "X1"]).json()["items"], Value::Array(vec![]));

    let lost = node.data_dir().join("lost.csv");
    std::fs::write(&lost, "event_id,session_id,member_id,direction,at\nconf,nope,X1,in,2026-05-01T14:00:00Z\n")
        .expect("csv");
    let err = cec(&node, &["checkin", "import", lost.to_str().expect("path")]).fails(1);
    assert!(err.contains("(not_found)") && err.contains("1 of 1 check-ins were refused"), "{err}");
}

#[test]
fn member_portfolio_goals_requirements_petitions() {
    let node = Node::start();
    let dir = node.data_dir();
    let evidence = dir.join("certificate.pdf");
    let content: Vec<u8> = (0..150_000u32).map(|i| (i % 241) as u8).collect();
    std::fs::write(&evidence, &content).expect("evidence");

    let entry = cec(
        &node,
        &[
            "--json",
            "portfolio",
            "add",
            "M1",
            "--id",
            "act1",
            "--kind",
            "activity",
            "--title",
            "Ethics webinar",
            "--date",
            "2026-02-03",
            "--cecs",
            "1.5",
            "--category",
            "ethics",
            "--evidence",
            evidence.to_str().expect("path"),
        ],
    )
    .json();
    assert_eq!(entry["credited_cecs"], "1.5");
    let sha = entry["evidence"][0].as_str().expect("sha256").to_owned();
    let back = dir.join("back.pdf");
    cec(&node, &["blob", "get", &sha, "-o", back.to_str().expect("path")]).ok();
    assert_eq!(std::fs::read(&back).expect("blob"), content);

    let err = cec(
        &node,
        &["portfolio", "add", "M1", "--kind", "activity", "--title", "x", "--date", "2026-02-03", "--cecs", "1.3"],
    )
    .fails(1);
    assert!(err.starts_with("error: ") && err.trim_end().ends_with("(invalid)"), "{err}");
    let edited = cec(&node, &["portfolio", "edit", "M1", "act1", "--title", "Ethics webinar (recorded)"]).ok();
    assert!(edited.contains("updated activity act1: Ethics webinar (recorded)"), "{edited}");
    cec(
        &node,
        &[
            "portfolio",
            "add",
            "M1",
            "--id",
            "vol",
            "--kind",
            "experience",
            "--title",
            "Volunteer",
            "--date",
            "2026-03-01",
        ],
    )
    .ok();

    let goal = cec(
        &node,
        &[
            "goal",
            "set",
            "M1",
            "g1",
            "--title",
            "12 CECs",
            "--target",
            "12",
            "--start",
            "2026-01-01",
            "--due",
            "2030-06-30",
            "--benchmark",
            "2028-01-01:6:halfway",
        ],
    )
    .ok();
    assert!(goal.contains("1.5 CEC of 12 CEC"), "{goal}");
    let goals = cec(&node, &["--json", "goal", "list", "M1"]).json();
    assert_eq!(
        (goals["items"][0]["earned_cecs"].as_str(), goals["items"][0]["remaining_cecs"].as_str()),
        (Some("1.5"), Some("10.5"))
    );
    let program = cec(
        &node,
        &[
            "requirement",
            "set",
            "M1",
            "lic",
            "--title",
            "Renewal",
            "--from",
            "2026-01-01",
            "--to",
            "2027-12-31",
            "--total",
            "40",
            "--min",
            "ethics:3",
        ],
    )
    .ok();
    assert!(program.contains("ethics    1.5 CEC of 3 CEC: missing 1.5 CEC"), "{program}");
    assert!(cec(&node, &["requirement", "list", "M1"]).ok().contains("missing 38.5 CEC"));

    let created = cec(&node, &["petition", "create", "M1", "--to", "NBCC", "--record", "act1", "--id", "p1"]).ok();
    assert!(created.contains("petition p1 to NBCC: draft") && created.contains("requested 1.5 CEC"), "{created}");
    let err = cec(&node, &["petition", "status", "M1", "p1", "accepted"]).fails(1);
    assert!(err.contains("cec petition status M1 p1 submitted") && err.contains("(conflict)"), "{err}");
    assert!(cec(&node, &["petition", "status", "M1", "p1", "submitted"]).ok().contains("p1 to NBCC: submitted"));
    let answered = cec(&node, &["petition", "status", "M1", "p1", "partially_accepted", "--accepted", "1.25"]).ok();
    assert!(answered.contains("partially accepted") && answered.contains("accepted 1.25 CEC"), "{answered}");
    assert!(cec(&node, &["petition", "status", "M1", "p1"]).ok().contains("accepted 1.25 CEC"));
    assert!(cec(&node, &["petition", "list", "M1"]).ok().contains("p1"));
    let packet = dir.join("packet.pdf");
    cec(&node, &["petition", "packet", "M1", "p1", "-o", packet.to_str().expect("path")]).ok();
    assert!(std::fs::read(&packet).expect("packet").starts_with(b"%PDF-"));
    let csv = cec(&node, &["transcript", "M1", "--format", "csv"]).ok();
    assert!(csv.contains("Ethics webinar (recorded)"), "{csv}");
    let pdf = dir.join("t.pdf");
    cec(&node, &["transcript", "M1", "-o", pdf.to_str().expect("path")]).ok();
    assert!(std::fs::read(&pdf).expect("transcript").starts_with(b"%PDF-"));
    let transcript = cec(&node, &["--json", "transcript", "M1"]).json();
    assert_eq!(transcript["totals"]["self_reported_cecs"], "1.5");
    // The file's extension picks the format: a .txt file holds the table, as text.
    let txt = dir.join("t.txt");
    cec(&node, &["transcript", "M1", "-o", txt.to_str().expect("path")]).ok();
    let text = std::fs::read_to_string(&txt).expect("transcript");
    assert!(text.starts_with("transcript of M1") && text.contains("self-reported 1.5 CEC"), "{text}");
    let json = dir.join("t.json");
    cec(&node, &["transcript", "M1", "-o", json.to_str().expect("path")]).ok();
    let parsed: Value = serde_json::from_slice(&std::fs::read(&json).expect("transcript")).expect("JSON");
    assert_eq!(parsed["member_id"], "M1");
    // A name that says no format needs --format; one that says another is refused: nothing written.
    let dat = dir.join("t.dat");
    let err = cec(&node, &["transcript", "M1", "-o", dat.to_str().expect("path")]).fails(2);
    assert!(err.contains("cannot tell the format") && err.contains("--format"), "{err}");
    assert!(!dat.exists());
    let err = cec(&node, &["transcript", "M1", "--format", "csv", "-o", pdf.to_str().expect("path")]).fails(2);
    assert!(err.contains("--format csv contradicts"), "{err}");
    cec(&node, &["transcript", "M1", "--format", "pdf", "-o", dat.to_str().expect("path")]).ok();
    assert!(std::fs::read(&dat).expect("transcript").starts_with(b"%PDF-"));
    let packet_txt = dir.join("packet.txt");
    cec(&node, &["petition", "packet", "M1", "p1", "-o", packet_txt.to_str().expect("path")]).ok();
    let text = std::fs::read_to_string(&packet_txt).expect("packet");
    assert!(text.starts_with("petition p1 to NBCC") && text.contains("act1"), "{text}");
    let err = cec(&node, &["petition", "packet", "M1", "p1", "-o", "packet.html"]).fails(2);
    assert!(err.contains("cannot tell the format"), "{err}");

    cec(&node, &["portfolio", "edit", "M1", "act1", "--clear", "category", "--description", "recorded in May"]).ok();
    cec(&node, &["portfolio", "rm", "M1", "vol"]).ok();
    let portfolio = cec(&node, &["--json", "portfolio", "show", "M1"]).json();
    let ids: Vec<&str> =
        portfolio["entries"].as_array().expect("entries").iter().filter_map(|e| e["id"].as_str()).collect();
    assert_eq!(ids, ["act1"]);
    assert!(portfolio["entries"][0]["category"].is_null(), "{portfolio}");
    assert_eq!(portfolio["entries"][0]["description"], "recorded in May");
    assert!(cec(&node, &["portfolio", "show", "M1"]).ok().contains("1.5 CEC self-reported"));
}

#[test]
fn change_feed_waits_for_news() {
    let node = Node::start();
    let cursor = cec(&node, &["--json", "changes"]).json()["cursor"].as_str().expect("cursor").to_owned();
    let started = Instant::now();
    let waiting = command(&node.data_dir(), &["--json", "changes", "--since", &cursor, "--wait", "20"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cec changes");
    std::thread::sleep(Duration::from_millis(300));
    cec(
        &node,
        &[
            "event",
            "create",
            "--id",
            "late",
            "--title",
            "Late",
            "--provider-id",
            "P",
            "--provider-name",
            "P",
            "--timezone",
            "UTC",
        ],
    )
    .ok();
    let out = waiting.wait_with_output().expect("wait");
    assert!(out.status.success(), "{out:?}");
    assert!(started.elapsed() < Duration::from_secs(15), "the long poll answered on the change");
    let feed: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert!(feed["changes"].as_array().expect("changes").iter().any(|c| c["id"] == "late"), "{feed}");
}

#[test]
fn errors_and_exit_codes() {
    let mut node = Node::start();
    let err = cec(&node, &["event", "show", "nope"]).fails(1);
    assert!(err.starts_with("error: ") && err.trim_end().ends_with("(not_found)"), "{err}");
    let usage =
        cec(&node, &["goal", "set", "M1", "g", "--title", "t", "--target", "1e3", "--due", "2026-01-01"]).fails(2);
    assert!(usage.contains("plain decimal"), "{usage}");
    cec(&node, &["session", "add", "conf", "--title", "t", "--starts-at", "2026-05-01T09:00", "--segment", "meal"])
        .fails(2);
    assert!(cec(&node, &["completions", "bash"]).ok().contains("_cec"));
    // A mistyped event is named as such, not answered with an empty list.
    let err = cec(&node, &["attendance", "M1", "--event", "nope"]).fails(1);
    assert!(err.contains("no event \"nope\"") && err.contains("(not_found)"), "{err}");
    let err = cec(&node, &["checkins", "--event", "nope"]).fails(1);
    assert!(err.contains("no event \"nope\""), "{err}");
    // A goal due in the past is refused for the start cec filled in (today): say which flag.
    let err = cec(&node, &["goal", "set", "M1", "g", "--title", "t", "--target", "1", "--due", "2020-06-30"]).fails(1);
    assert!(err.contains("without --start") && err.contains("--due 2020-06-30") && err.contains("(invalid)"), "{err}");
    let past =
        ["goal", "set", "M1", "g", "--title", "t", "--target", "1", "--start", "2020-01-01", "--due", "2020-06-30"];
    assert!(cec(&node, &past).ok().contains("goal g: t"));
    // A refusal names the flags the user typed, not the API's fields (window_end, window_start).
    let backwards =
        ["requirement", "set", "M1", "r", "--title", "t", "--from", "2026-01-01", "--to", "2025-01-01", "--total", "3"];
    let err = cec(&node, &backwards).fails(1);
    assert!(err.contains("error: --to: must not be before --from") && err.trim_end().ends_with("(invalid)"), "{err}");
    assert!(!err.contains("window_"), "{err}");
    let err = cec(&node, &["goal", "set", "M1", "g2", "--title", "t", "--target", "0", "--due", "2030-01-01"]).fails(1);
    assert!(err.contains("--target: ") && !err.contains("target_cecs"), "{err}");

    let missing = node.data_dir().join("missing");
    let err = cec_in(&missing, &["status"]).fails(1);
    assert!(err.contains("no cecd data directory at") && err.contains("--data-dir"), "{err}");

    node.terminate();
    let err = cec(&node, &["status"]).fails(1);
    assert!(
        err.contains("not reachable at http://127.0.0.1:") && err.contains("start it with `cecd --data-dir"),
        "{err}"
    );
}
