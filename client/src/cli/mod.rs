//! The `cec` command line: flags, subcommands and dispatch. One file per command group.

use std::path::PathBuf;

use clap::{CommandFactory, Parser, Subcommand};
use serde::Serialize;

use cec_client::discover::{DiscoverEnv, Discovery, TOKEN_FILE, URL_FILE, UrlSource, discover};
use cec_client::{Client, ClientError};

mod args;
mod blob;
mod changes;
mod checkin;
mod credential;
mod credit;
mod enrol;
mod event;
mod flags;
mod goal;
mod import;
mod open;
mod output;
mod pairings;
mod peers;
mod petition;
mod portfolio;
mod requirement;
mod roster;
mod session;
mod status;
mod sync;
mod transcript;

const AFTER_HELP: &str = "\
The node is found by itself: the data directory is --data-dir, else $CECD_DATA_DIR, else
$XDG_DATA_HOME/cecd, else ~/.local/share/cecd; the API token is read from its `api-token` file;
the URL is --url, else $CEC_URL, else the `api-url` file the running node writes there, else
http://127.0.0.1:7420.

Credit is written and shown as decimals (1.25), never rounded through floating point.
Exit status: 0 ok; 1 on errors, printed to stderr as `error: <message> (<code>)` when the node
refused a request (a refused value is named by the flag that gave it: `--to: ...`); 2 for bad
usage.";

/// Keep continuing-education credit with a local cecd node: events, check-ins, credit,
/// portfolios, goals, requirements, petitions and transcripts.
#[derive(Debug, Parser)]
#[command(name = "cec", version, after_help = AFTER_HELP)]
pub(crate) struct Cli {
    /// The node's data directory (holds `api-token` and `api-url`)
    #[arg(long, global = true, value_name = "DIR", env = "CECD_DATA_DIR", help_heading = "Global options")]
    data_dir: Option<PathBuf>,
    /// The node's API URL, e.g. http://127.0.0.1:7420 (default: from the data directory)
    #[arg(long, global = true, value_name = "URL", env = "CEC_URL", help_heading = "Global options")]
    url: Option<String>,
    /// Print the API's JSON instead of tables and lines
    #[arg(long, global = true, help_heading = "Global options")]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show the node: health, role, address, data directory, peer URL and credential
    Status,
    /// Create, list and show events (provider, endorsement, venue, door policy)
    #[command(subcommand)]
    Event(event::EventCmd),
    /// Add and list an event's sessions and their segments
    #[command(subcommand)]
    Session(session::SessionCmd),
    /// Add members to an event's roster, or show it
    #[command(subcommand)]
    Roster(roster::RosterCmd),
    /// Record check-ins at a session door, or import a kiosk's buffered scans
    #[command(subcommand)]
    Checkin(checkin::CheckinCmd),
    /// List check-ins, filtered by event, session or member (all pages)
    Checkins(checkin::ListArgs),
    /// A member's attendance per session: minutes, CECs, flags and why it is not more
    Attendance(credit::AttendanceArgs),
    /// A member's credit: verified, self-reported, total, CEUs, by category
    Cecs(credit::CecsArgs),
    /// A member's portfolio: show it, add, edit or remove entries (with evidence files)
    #[command(subcommand)]
    Portfolio(portfolio::PortfolioCmd),
    /// A member's development-plan goals and whether they are on track
    #[command(subcommand)]
    Goal(goal::GoalCmd),
    /// A member's requirement programs: what is met, what is missing
    #[command(subcommand)]
    Requirement(requirement::RequirementCmd),
    /// Petitions asking another association to accept credit, and their packets
    #[command(subcommand)]
    Petition(petition::PetitionCmd),
    /// A member's transcript, as a table, JSON, CSV or PDF
    #[command(after_help = transcript::FORMAT_HELP)]
    Transcript(transcript::TranscriptArgs),
    /// Store or fetch evidence files (content-addressed blobs)
    #[command(subcommand)]
    Blob(blob::BlobCmd),
    /// The change feed: what changed since a cursor, optionally waiting for news
    Changes(changes::ChangesArgs),
    /// List the peers this node syncs with, or add and remove them
    #[command(long_about = "List the peers this node syncs with: id, role, state (ok, failing, never_synced), \
last sync and last error. `cec peers add URL` adds one by its peer URL (`peer url` in `cec status` \
on that node); `cec peers remove ID` forgets one.\n\n\
Example:\n  cec peers add https://192.168.1.20:7421/n3f9a6c21d0e4b7a85c1e2d90\n  cec peers")]
    Peers(peers::PeersArgs),
    /// Sync now with every peer (or one): what was sent and received; exit 1 if a peer failed
    #[command(long_about = "Run a sync round now with every peer, or only --peer ID, and print per peer \
the documents and bytes sent and received, or why it failed. Exit status 1 if any peer failed, or \
if this node has no credential yet (`cec enroll CODE` or `cec credential install`). Nodes also sync \
by themselves soon after a local change and every `sync_interval_secs` (cecd.toml; 0: only when \
asked).\n\n\
Example:\n  cec sync\n  cec sync --peer n3f9a6c21d0e4b7a85c1e2d90")]
    Sync(sync::SyncArgs),
    /// Issue a credential (central node) or install this node's own, so that it can sync
    #[command(subcommand)]
    Credential(credential::CredentialCmd),
    /// Join the organization with an enrolment code: fetch and install this node's credential
    #[command(long_about = "Join the organization with an enrolment code from `cec enrolment create` on \
the central node. This node connects to the central node's peer listener named in the code (pinned to \
its node id), presents the code, checks that the organization key it gets back matches the code's \
fingerprint, and installs the credential issued for this node's own key. The central node becomes a \
peer (source `central`): this node then syncs with it by itself, with no `cec peers add`.\n\n\
Refused: a mistyped code, an unknown, expired or used-up one, one from another organization than the \
one this node already belongs to, and a central node whose organization key does not match the code.\n\n\
Example:\n  cec enroll cecenrolaeb7...")]
    Enroll(enrol::EnrollArgs),
    /// Issue enrolment codes for new nodes (central node)
    #[command(subcommand)]
    Enrolment(enrol::EnrolmentCmd),
    /// Revoke a node's credentials, e.g. a lost kiosk (central node)
    #[command(long_about = "Revoke a node's credentials (a lost or stolen kiosk, a member's old laptop). \
The revocation is signed with the organization key and travels with sync: every node that hears of it \
refuses that node from then on, and the revoked node stops syncing when it learns. It cannot be undone; \
the node can join again only with a new data directory (a new node key) and a new enrolment. Only the \
central node revokes, and never itself.\n\n\
Example:\n  cec revoke n3f9a6c21d0e4b7a85c1e2d90")]
    Revoke(enrol::RevokeArgs),
    /// List the revocations this node knows
    Revocations,
    /// Open a page of the node (the kiosk screen, the organizer's page, a portfolio) in a browser, with a one-time link
    #[command(
        long_about = "Print, and try to open in a browser, a one-time link to a page of this node (`kiosk`: the check-in screen; `organize`: events, sessions, rosters and attendance for organizers and field staff; `portfolio`: a member's portfolio). The link works once, within a minute; opening it signs the browser in with a session cookie (HttpOnly, SameSite=Strict) that lasts a day, so the API token never appears in a URL or a page. Run it again for another browser or when the session ends.\n\n\
The portfolio page shows the member a member's node belongs to; elsewhere give --member ID (or type it on the page).\n\n\
A kiosk screen is paired once instead: `cec open kiosk --pair` gives a link whose session lasts kiosk_pairing_days (cecd.toml, 90 by default) and starts again each day the screen is used, and reaches only what the kiosk screen needs. From then on that browser opens http://127.0.0.1:PORT/kiosk (the address the link opened, from a bookmark or as the start page of a browser started with the device) with no terminal. `cec pairings` lists pairings and ends one (a lost tablet).\n\n\
Example:\n  cec open kiosk\n  cec open kiosk --pair --label \"door A tablet\"\n  cec open --page organize\n  cec --data-dir kiosk open --no-browser\n  cec open --page portfolio --member M-1001"
    )]
    Open(open::OpenArgs),
    /// List the browsers paired with the kiosk screen (`cec open kiosk --pair`), or end pairings
    #[command(long_about = "List the browsers paired with the kiosk screen by `cec open kiosk --pair`: \
id, label, state (active, expired, ended), when paired, and when the pairing ends unless the screen \
is used before (each day of use starts kiosk_pairing_days again). `cec pairings end ID` signs one \
out, e.g. a lost tablet; `cec pairings end --all` every one.\n\n\
Example:\n  cec pairings\n  cec pairings end 3q2-7wAAAEw_ZQ5mUO1Cdg")]
    Pairings(pairings::PairingsArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    Completions {
        /// The shell
        shell: clap_complete::Shell,
    },
}

impl Cli {
    /// What clap cannot check by itself (flags that contradict each other), as a usage error
    /// (exit 2) before the node is asked anything.
    pub(crate) fn validate(&self) -> Result<(), clap::Error> {
        let (name, checked) = match &self.command {
            Command::Cecs(a) => ("cecs", a.check()),
            Command::Transcript(a) => ("transcript", a.check()),
            Command::Petition(c) => ("petition", c.check()),
            _ => return Ok(()),
        };
        checked.map_err(|msg| {
            let mut cmd = Cli::command();
            let sub = cmd.find_subcommand_mut(name).map(std::mem::take).unwrap_or_default();
            sub.bin_name(format!("cec {name}")).error(clap::error::ErrorKind::ArgumentConflict, msg)
        })
    }
}

/// What every command gets: the client and the output mode.
#[derive(Debug)]
pub(crate) struct Ctx {
    pub(crate) client: Client,
    pub(crate) json: bool,
}

impl Ctx {
    /// Prints `value` as JSON with `--json`, else runs `human`.
    pub(crate) fn emit<T: Serialize + ?Sized>(
        &self,
        value: &T,
        human: impl FnOnce(&T) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        if self.json { output::json(value) } else { human(value) }
    }
}

/// Runs the parsed command line.
pub(crate) async fn run(cli: Cli) -> anyhow::Result<()> {
    if let Command::Completions { shell } = cli.command {
        let mut script = Vec::new();
        clap_complete::generate(shell, &mut Cli::command(), "cec", &mut script);
        return output::write_report(None, &script, false);
    }
    let found = discover(cli.data_dir, cli.url, &DiscoverEnv::from_process())?;
    let ctx = Ctx { client: Client::from_discovery(&found)?, json: cli.json };
    let flags = flags_of(&cli.command);
    dispatch(&ctx, &found, cli.command).await.map_err(|e| explain(flags::name_flag(e, flags), &found))
}

/// Which flag fills which API field, for the commands that send a request body.
fn flags_of(command: &Command) -> flags::FlagMap {
    match command {
        Command::Event(_) => flags::EVENT_CREATE,
        Command::Session(_) => flags::SESSION_ADD,
        Command::Roster(_) => flags::ROSTER_ADD,
        Command::Checkin(_) => flags::CHECKIN,
        Command::Portfolio(_) => flags::ENTRY,
        Command::Goal(_) => flags::GOAL_SET,
        Command::Requirement(_) => flags::REQUIREMENT_SET,
        Command::Petition(_) => flags::PETITION,
        Command::Enrolment(_) => flags::ENROLMENT_CREATE,
        Command::Credential(_) => flags::CREDENTIAL,
        _ => &[],
    }
}

/// Adds to a refused token what only the command line knows: which token file it sent and
/// where the URL came from. The usual cause is a URL and a data directory of two different
/// nodes (`$CEC_URL` left set, `--url` of another node, a stale `api-url`).
fn explain(e: anyhow::Error, found: &Discovery) -> anyhow::Error {
    let refused = e.chain().any(|c| c.downcast_ref::<ClientError>().is_some_and(|c| c.status() == Some(401)));
    if !refused {
        return e;
    }
    let source = match found.url_source {
        UrlSource::Explicit => "given by --url".to_owned(),
        UrlSource::Env => "from $CEC_URL".to_owned(),
        UrlSource::File => format!("from {}", found.data_dir.join(URL_FILE).display()),
        UrlSource::Default => "the default".to_owned(),
    };
    e.context(format!(
        "the node at {} ({source}) refused the token in {}: it is not the node of {}, or that node's token changed",
        found.base_url,
        found.data_dir.join(TOKEN_FILE).display(),
        found.data_dir.display()
    ))
}

async fn dispatch(ctx: &Ctx, found: &Discovery, command: Command) -> anyhow::Result<()> {
    match command {
        Command::Status => status::run(ctx, found).await,
        Command::Event(c) => event::run(ctx, c).await,
        Command::Session(c) => session::run(ctx, c).await,
        Command::Roster(c) => roster::run(ctx, c).await,
        Command::Checkin(c) => checkin::run(ctx, c).await,
        Command::Open(a) => open::run(ctx, a).await,
        Command::Pairings(a) => pairings::run(ctx, a).await,
        Command::Checkins(a) => checkin::list(ctx, a).await,
        Command::Attendance(a) => credit::attendance(ctx, a).await,
        Command::Cecs(a) => credit::cecs(ctx, a).await,
        Command::Portfolio(c) => portfolio::run(ctx, c).await,
        Command::Goal(c) => goal::run(ctx, c).await,
        Command::Requirement(c) => requirement::run(ctx, c).await,
        Command::Petition(c) => petition::run(ctx, c).await,
        Command::Transcript(a) => transcript::run(ctx, a).await,
        Command::Blob(c) => blob::run(ctx, c).await,
        Command::Changes(a) => changes::run(ctx, a).await,
        Command::Peers(a) => peers::run(ctx, a).await,
        Command::Sync(a) => sync::run(ctx, a).await,
        Command::Credential(c) => credential::run(ctx, c).await,
        Command::Enroll(a) => enrol::enroll(ctx, a).await,
        Command::Enrolment(c) => enrol::enrolment(ctx, c).await,
        Command::Revoke(a) => enrol::revoke(ctx, a).await,
        Command::Revocations => enrol::revocations(ctx).await,
        Command::Completions { .. } => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("cec").chain(args.iter().copied()))
    }

    #[test]
    fn the_command_tree_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_flags_go_anywhere() {
        let cli = parse(&["status", "--json", "--data-dir", "/tmp/x", "--url", "http://127.0.0.1:1"]).unwrap();
        assert!(cli.json);
        assert_eq!(cli.data_dir, Some(PathBuf::from("/tmp/x")));
        assert_eq!(cli.url.as_deref(), Some("http://127.0.0.1:1"));
    }

    #[test]
    fn usage_errors_are_clap_errors() {
        assert!(parse(&[]).is_err());
        assert!(parse(&["nope"]).is_err());
        let e =
            parse(&["session", "add", "E1", "--title", "T", "--starts-at", "2026-05-01T09:00", "--segment", "meal"])
                .unwrap_err();
        assert_eq!(e.exit_code(), 2);
        let e =
            parse(&["goal", "set", "M1", "G1", "--title", "t", "--target", "1e3", "--due", "2026-06-30"]).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("plain decimal"), "{e}");
    }

    #[test]
    fn a_span_that_ends_before_it_starts_is_a_usage_error() {
        for cmd in ["cecs", "transcript"] {
            let cli = parse(&[cmd, "M1", "--from", "2026-12-31", "--to", "2026-01-01"]).unwrap();
            let e = cli.validate().unwrap_err();
            assert_eq!(e.exit_code(), 2, "{cmd}");
            assert!(e.to_string().contains("--from 2026-12-31 is after --to 2026-01-01"), "{cmd}: {e}");
            assert!(parse(&[cmd, "M1", "--from", "2026-01-01", "--to", "2026-12-31"]).unwrap().validate().is_ok());
            assert!(parse(&[cmd, "M1", "--from", "2026-12-31"]).unwrap().validate().is_ok());
        }
    }

    #[test]
    fn a_refused_token_names_the_token_file_and_where_the_url_came_from() {
        let found = Discovery {
            data_dir: PathBuf::from("/srv/kiosk"),
            data_dir_explicit: true,
            base_url: "http://127.0.0.1:7420".into(),
            url_source: UrlSource::Env,
            token: "t".into(),
        };
        let refused = ClientError::from_response(
            401,
            br#"{"error": {"code": "unauthorized", "message": "missing or wrong bearer token"}}"#,
        );
        let shown = format!("{:#}", explain(refused.into(), &found));
        assert!(shown.contains("the node at http://127.0.0.1:7420 (from $CEC_URL)"), "{shown}");
        assert!(shown.contains("refused the token in /srv/kiosk/api-token"), "{shown}");
        assert!(shown.ends_with("missing or wrong bearer token (unauthorized)"), "the node's word stays: {shown}");
        let other = ClientError::from_response(404, br#"{"error": {"code": "not_found", "message": "no event"}}"#);
        assert_eq!(format!("{:#}", explain(other.into(), &found)), "no event (not_found)", "only a refused token");
    }

    #[test]
    fn session_segments_parse() {
        let kinds = |segments: &[&str]| {
            let mut args = vec!["session", "add", "E1", "--title", "Lunch keynote", "--starts-at", "2026-05-01T12:00"];
            for s in segments {
                args.extend(["--segment", s]);
            }
            let cli = parse(&args).unwrap();
            let Command::Session(session::SessionCmd::Add(a)) = cli.command else { panic!("not session add") };
            a.segments.iter().map(|s| (s.kind.clone(), s.minutes)).collect::<Vec<_>>()
        };
        let expected = [("meal".to_owned(), 30), ("keynote".to_owned(), 30), ("meal".to_owned(), 30)];
        assert_eq!(kinds(&["meal:30", "keynote:30,meal:30"]), expected);
        // The docs' own notation, as one quoted flag.
        assert_eq!(kinds(&["meal 30, keynote 30, meal 30"]), expected);
    }

    #[test]
    fn portfolio_add_parses_credit_as_decimal() {
        let cli = parse(&[
            "portfolio",
            "add",
            "M1",
            "--kind",
            "activity",
            "--title",
            "Webinar",
            "--date",
            "2026-02-03",
            "--cecs",
            "1.5",
            "--evidence",
            "cert.pdf",
        ])
        .unwrap();
        let Command::Portfolio(portfolio::PortfolioCmd::Add(a)) = cli.command else { panic!("not portfolio add") };
        assert_eq!(a.cecs.map(|d| d.to_string()), Some("1.5".into()));
        assert_eq!(a.evidence, [PathBuf::from("cert.pdf")]);
        assert!(
            parse(&[
                "portfolio",
                "add",
                "M1",
                "--kind",
                "activity",
                "--title",
                "t",
                "--date",
                "2026-02-03",
                "--cecs",
                "abc"
            ])
            .is_err()
        );
    }

    #[test]
    fn peers_sync_and_credentials_parse() {
        let cli = parse(&["peers"]).unwrap();
        assert!(matches!(cli.command, Command::Peers(_)));
        let cli = parse(&["peers", "add", "https://127.0.0.1:7421/N1", "--url", "http://127.0.0.1:1"]).unwrap();
        assert_eq!(cli.url.as_deref(), Some("http://127.0.0.1:1"), "the peer URL is not the node's --url");
        let Command::Peers(p) = cli.command else { panic!("not peers") };
        assert!(format!("{p:?}").contains("https://127.0.0.1:7421/N1"), "{p:?}");
        assert!(parse(&["peers", "remove", "N1"]).is_ok());
        assert!(parse(&["peers", "add"]).is_err());
        assert!(parse(&["sync", "--peer", "N1"]).is_ok());
        let cli = parse(&[
            "credential",
            "issue",
            "--public-key",
            "KEY",
            "--role",
            "kiosk",
            "--scope",
            "event:conf",
            "--scope",
            "member:M-1",
            "--expires",
            "2027-06-01T00:00:00Z",
        ])
        .unwrap();
        let Command::Credential(credential::CredentialCmd::Issue(a)) = cli.command else { panic!("not issue") };
        assert_eq!(format!("{a:?}").matches("event:conf").count(), 1, "{a:?}");
        // A base64url key may begin with '-' (one in 64 keys does): still the key, not a flag.
        let hyphen = ["credential", "issue", "--public-key", "-Oj1r_Xk", "--role", "kiosk", "--scope", "*"];
        let cli = parse(&[&hyphen[..], &["--expires", "2027-06-01T00:00:00Z"]].concat()).unwrap();
        let Command::Credential(credential::CredentialCmd::Issue(a)) = cli.command else { panic!("not issue") };
        assert!(format!("{a:?}").contains("\"-Oj1r_Xk\""), "{a:?}");
        let install = ["credential", "install", "cecsync-cred-v1.x", "--org-key", "-Zq9"];
        assert!(parse(&install).is_ok());
        // A scope is required, the role is one of four, the expiry carries its offset.
        let base = ["credential", "issue", "--public-key", "K", "--expires", "2027-06-01T00:00:00Z"];
        assert!(parse(&[&base[..], &["--role", "kiosk"]].concat()).is_err());
        assert!(parse(&[&base[..], &["--role", "king", "--scope", "*"]].concat()).is_err());
        let e = parse(&[
            "credential",
            "issue",
            "--public-key",
            "K",
            "--role",
            "kiosk",
            "--scope",
            "*",
            "--expires",
            "2027-06-01",
        ])
        .unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(parse(&["credential", "install", "cecsync-cred-v1.x.y", "--org-key", "K"]).is_ok());
        assert!(parse(&["credential", "install", "cecsync-cred-v1.x.y"]).is_err());
        let cli = parse(&[
            "enrolment",
            "create",
            "--role",
            "kiosk",
            "--scope",
            "event:E1",
            "--uses",
            "10",
            "--expires",
            "2027-06-01",
        ])
        .unwrap();
        assert!(matches!(cli.command, Command::Enrolment(enrol::EnrolmentCmd::Create(_))));
        let base = ["enrolment", "create", "--role", "kiosk", "--scope", "event:E1", "--expires", "2027-06-01"];
        assert!(parse(&base).is_ok(), "uses defaults to 1");
        assert!(parse(&[&base[..], &["--uses", "0"]].concat()).is_err());
        assert!(
            parse(&["enrolment", "create", "--role", "central", "--scope", "*", "--expires", "2027-06-01"]).is_err()
        );
        assert!(parse(&["enrolment", "create", "--role", "kiosk", "--scope", "*", "--expires", "soon"]).is_err());
        assert!(matches!(parse(&["enroll", "cecenrolabc"]).unwrap().command, Command::Enroll(_)));
        assert!(parse(&["enroll"]).is_err());
        assert!(matches!(parse(&["revoke", "n1"]).unwrap().command, Command::Revoke(_)));
        assert!(matches!(parse(&["revocations"]).unwrap().command, Command::Revocations));
    }

    #[test]
    fn checkin_directions_and_completions() {
        assert!(parse(&["checkin", "in", "E1", "S1", "M1"]).is_ok());
        assert!(parse(&["checkin", "out", "E1", "S1", "M1", "--at", "2026-05-01T10:15"]).is_ok());
        assert!(parse(&["checkin", "sideways", "E1", "S1", "M1"]).is_err());
        assert!(parse(&["completions", "bash"]).is_ok());
        assert!(parse(&["completions", "tcsh"]).is_err());
    }
}
