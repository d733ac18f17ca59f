//! A real `cecd` process on a temporary data directory, listening on `127.0.0.1:0`.

use std::fs::OpenOptions;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

use crate::http::{Request, Response};

/// How long a node may take to start or stop.
const START_DEADLINE: Duration = Duration::from_secs(20);

/// The `cecd` binary the tests run: `$CECD_BIN` if set, else [`workspace_bin`]`("cecd")`.
pub fn cecd_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| std::env::var_os("CECD_BIN").map_or_else(|| workspace_bin("cecd"), PathBuf::from))
}

/// A binary of this workspace (`cecd`, `cec`), up to date.
///
/// `cargo test` builds a package's binaries only for that package's own integration tests, so
/// the first call runs, once per test binary, `cargo build --workspace --bins --tests` with the
/// cargo, target directory and profile of the running tests. Building the tests too resolves
/// features exactly as `cargo test --workspace` does, so after it everything is fresh and only
/// the binaries are linked (a narrower `-p cecd` build would resolve other features and
/// recompile dozens of crates). Without cargo (a copied test binary) whatever is there is used.
pub fn workspace_bin(name: &str) -> PathBuf {
    static PROFILE_DIR: OnceLock<PathBuf> = OnceLock::new();
    let dir = PROFILE_DIR.get_or_init(|| {
        // The test binary is `<target-dir>/<profile-dir>/deps/<name>-<hash>`.
        let exe = std::env::current_exe().expect("current_exe");
        let profile_dir = exe.parent().and_then(Path::parent).expect("test binary in <target>/<profile>/deps");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut cmd = Command::new(cargo);
        // `--locked`: the cargo that runs the tests has already settled `Cargo.lock`.
        cmd.args(["build", "--quiet", "--locked", "--workspace", "--bins", "--tests"]);
        if let Some(target_dir) = profile_dir.parent() {
            cmd.arg("--target-dir").arg(target_dir);
        }
        match profile_dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") | None => {}
            Some("release") => {
                cmd.arg("--release");
            }
            Some(other) => {
                cmd.args(["--profile", other]);
            }
        }
        match cmd.current_dir(env!("CARGO_MANIFEST_DIR")).status() {
            Ok(s) if s.success() => {}
            other => eprintln!("cec-e2e: building the workspace's binaries: {other:?}"),
        }
        profile_dir.to_owned()
    });
    let bin = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(bin.exists(), "cec-e2e: {} does not exist and could not be built", bin.display());
    bin
}

/// The `cec` binary the tests run: `$CEC_BIN` if set, else [`workspace_bin`]`("cec")`.
pub fn cec_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| std::env::var_os("CEC_BIN").map_or_else(|| workspace_bin("cec"), PathBuf::from))
}

/// A loopback port free at the time of asking (for a listener a test restarts on the same port).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}
/// The `retention_days` test nodes run with unless a test sets its own: a century.
pub(crate) const TEST_RETENTION_DAYS: u32 = 36_500;

/// A running (or stopped) `cecd` with its own data directory, killed when dropped.
#[derive(Debug)]
pub struct Node {
    root: TempDir,
    args: Vec<String>,
    child: Option<Child>,
    addr: Option<SocketAddr>,
    token: String,
    /// `--listen`: `127.0.0.1:0` until [`Node::restart_same_address`].
    listen: String,
}

impl Node {
    /// Starts a node on a fresh data directory.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Starts a node with extra flags (such as `--demo`), kept for [`Node::restart`].
    pub fn start_with(args: &[&str]) -> Self {
        Self::start_configured("", args)
    }

    /// Starts a node whose data directory holds `cecd.toml` with `config`.
    pub fn start_configured(config: &str, args: &[&str]) -> Self {
        let mut node = Self::unstarted(config, args);
        node.spawn();
        node
    }

    /// Starts the organization's central node (`cecd init-central --org ACA` first) with
    /// `config` and `args` (a `--peer-listen` for other nodes to enrol and sync).
    pub fn central(config: &str, args: &[&str]) -> Self {
        let mut node = Self::unstarted(config, args);
        let out = Self::command(&node.data_dir(), &["init-central", "--org", "ACA"]);
        assert!(out.status.success(), "init-central: {}", String::from_utf8_lossy(&out.stderr));
        node.spawn();
        node
    }

    /// A node with its (empty but for `config`) data directory, not started yet: prepare the
    /// directory (mount something on it, say), then [`Node::restart`] or [`Node::try_start`].
    ///
    /// Unless `config` sets `retention_days`, the node keeps events for [`TEST_RETENTION_DAYS`]:
    /// the fixtures' conference ([`crate::fixtures::DAY`]) is in the past, and a kiosk under
    /// test acts during it, so retention must not take the event from it after its first sync.
    pub fn unstarted(config: &str, args: &[&str]) -> Self {
        let root = tempfile::Builder::new().prefix("cec-e2e-").tempdir().expect("tempdir");
        std::fs::create_dir(root.path().join("data")).expect("data dir");
        let mut config = config.to_owned();
        if !config.contains("retention_days") {
            if !config.is_empty() && !config.ends_with('\n') {
                config.push('\n');
            }
            config.push_str(&format!("retention_days = {TEST_RETENTION_DAYS}\n"));
        }
        std::fs::write(root.path().join("data").join("cecd.toml"), config).expect("cecd.toml");
        Self {
            root,
            args: args.iter().map(|s| (*s).to_owned()).collect(),
            child: None,
            addr: None,
            token: String::new(),
            listen: "127.0.0.1:0".into(),
        }
    }

    /// Starts the node and waits for it to answer; if it exits instead, its log tail.
    pub fn try_start(&mut self) -> Result<(), String> {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.spawn())) {
            Ok(()) => Ok(()),
            Err(_) => {
                self.kill9();
                Err(self.log_tail())
            }
        }
    }

    /// The data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.root.path().join("data")
    }

    fn log_path(&self) -> PathBuf {
        self.root.path().join("cecd.log")
    }

    /// The last lines of the node's log, for failure messages.
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    fn spawn(&mut self) {
        assert!(self.child.is_none(), "node already running");
        let url_file = self.data_dir().join("api-url");
        // A node killed with SIGKILL leaves its old URL behind.
        let _ = std::fs::remove_file(&url_file);
        let log = OpenOptions::new().create(true).append(true).open(self.log_path()).expect("log file");
        let child = Command::new(cecd_bin())
            .arg("--data-dir")
            .arg(self.data_dir())
            .args(["--listen", &self.listen])
            .args(&self.args)
            .env_remove("RUST_LOG")
            .env_remove("CECD_DATA_DIR")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {}: {e}", cecd_bin().display()));
        self.child = Some(child);
        let deadline = Instant::now() + START_DEADLINE;
        let url = loop {
            if let Ok(url) = std::fs::read_to_string(&url_file) {
                break url;
            }
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                self.child = None;
                panic!("cecd exited at start with {status}:\n{}", self.log_tail());
            }
            assert!(
                Instant::now() < deadline,
                "cecd did not write api-url in {START_DEADLINE:?}:\n{}",
                self.log_tail()
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        let addr = url.trim().strip_prefix("http://").and_then(|a| a.parse().ok());
        self.addr = Some(addr.unwrap_or_else(|| panic!("api-url is not http://<addr>: {url:?}")));
        self.token = std::fs::read_to_string(self.data_dir().join("api-token")).expect("api-token").trim().to_owned();
        let health = self.request("GET", "/v1/health").send();
        assert_eq!(health.status, 200, "health after start: {}", health.text());
    }

    /// The API's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr.expect("node not started")
    }

    /// The API token.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The running process's id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("node not running").id()
    }

    /// A request without the token.
    pub fn request(&self, method: &str, path: &str) -> Request {
        Request::new(self.addr(), method, path)
    }

    /// A request with the bearer token.
    pub fn authed(&self, method: &str, path: &str) -> Request {
        self.request(method, path).header("authorization", &format!("Bearer {}", self.token))
    }

    /// `GET path` with the token.
    pub fn get(&self, path: &str) -> Response {
        self.authed("GET", path).send()
    }

    /// `POST path` with a JSON body and the token.
    pub fn post(&self, path: &str, body: &Value) -> Response {
        self.authed("POST", path).json(body).send()
    }

    /// `PUT path` with a JSON body and the token.
    pub fn put(&self, path: &str, body: &Value) -> Response {
        self.authed("PUT", path).json(body).send()
    }

    /// `PATCH path` with a JSON body and the token.
    pub fn patch(&self, path: &str, body: &Value) -> Response {
        self.authed("PATCH", path).json(body).send()
    }

    /// `DELETE path` with the token.
    pub fn delete(&self, path: &str) -> Response {
        self.authed("DELETE", path).send()
    }

    /// Kills the process with SIGKILL: no shutdown, no flush.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("SIGKILL");
            child.wait().expect("wait");
        }
    }

    /// Sends SIGKILL now, from any thread, without waiting; [`Node::kill9`] then reaps it.
    pub fn sigkill_now(&self) {
        let child = self.child.as_ref().expect("node not running");
        rustix::process::kill_process(rustix::process::Pid::from_child(child), rustix::process::Signal::KILL)
            .expect("SIGKILL");
    }

    /// Sends SIGTERM and waits for a clean exit; returns its status.
    pub fn terminate(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("node not running");
        rustix::process::kill_process(rustix::process::Pid::from_child(&child), rustix::process::Signal::TERM)
            .expect("SIGTERM");
        let deadline = Instant::now() + START_DEADLINE;
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("cecd did not stop within {START_DEADLINE:?} of SIGTERM:\n{}", self.log_tail());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts the node again on the same data directory with the same flags (after
    /// [`Node::kill9`] or [`Node::terminate`]).
    pub fn restart(&mut self) {
        self.spawn();
    }

    /// Starts the node again on the same data directory with `args` instead of the flags it had
    /// (say, another `--clock-offset-secs`), kept for later restarts.
    pub fn restart_with(&mut self, args: &[&str]) {
        self.args = args.iter().map(|s| (*s).to_owned()).collect();
        self.spawn();
    }

    /// Starts the node again like [`Node::restart`], on the address it listened on before (a
    /// browser page keeps its origin).
    pub fn restart_same_address(&mut self) {
        self.listen = self.addr().to_string();
        self.spawn();
    }

    /// Runs `cec --data-dir <its data dir> <args>` against this node to completion: exit code,
    /// stdout, stderr.
    pub fn cec(&self, args: &[&str]) -> (i32, String, String) {
        let out = Command::new(cec_bin())
            .arg("--data-dir")
            .arg(self.data_dir())
            .args(args)
            .env_remove("CEC_URL")
            .env_remove("CECD_DATA_DIR")
            .env_remove("XDG_DATA_HOME")
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("running {}: {e}", cec_bin().display()));
        let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        (out.status.code().unwrap_or(-1), s(&out.stdout), s(&out.stderr))
    }

    /// Runs `cecd --data-dir <dir> <args>` to completion (subcommands such as `token`).
    pub fn command(data_dir: &Path, args: &[&str]) -> std::process::Output {
        Command::new(cecd_bin())
            .arg("--data-dir")
            .arg(data_dir)
            .args(args)
            .env_remove("CECD_DATA_DIR")
            .stdin(Stdio::null())
            .output()
            .expect("running cecd")
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        // A handler that panicked was answered with a 500 by the catch-panic layer; a task
        // that panicked was not answered at all. Either is a failure of the test that ran it.
        let log = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        if let Some(i) = lines.iter().position(|l| l.contains("panicked at"))
            && !std::thread::panicking()
        {
            panic!("cecd panicked during the test:\n{}", lines[i..lines.len().min(i + 12)].join("\n"));
        }
    }
}
