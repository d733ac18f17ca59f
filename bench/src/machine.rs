//! What the numbers ran on: CPUs, memory, kernel, load, and CPU time of processes and threads.

use std::path::Path;
use std::time::Duration;

/// Linux's `USER_HZ`, the unit of the CPU times in `/proc`: 100 on every mainstream architecture.
const USER_HZ: u64 = 100;

/// `nproc`, CPU model, memory and kernel, as far as Linux tells.
pub(crate) fn describe() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name").map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned()))
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let virtual_machine =
        cpuinfo.lines().any(|l| l.starts_with("flags") && l.split_whitespace().any(|f| f == "hypervisor"));
    let mem_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or_else(|| "?".to_owned(), |kb| format!("{:.0}", kb as f64 / 1024.0 / 1024.0));
    let kernel =
        std::fs::read_to_string("/proc/sys/kernel/osrelease").map_or_else(|_| "?".to_owned(), |k| k.trim().to_owned());
    format!(
        "{cpus} CPUs (nproc) · {model} · {mem_gib} GiB RAM · Linux {kernel}{}",
        if virtual_machine { " · virtual machine (hypervisor flag)" } else { "" }
    )
}

/// `/proc/loadavg`'s 1, 5 and 15 minute averages.
pub(crate) fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".to_owned())
}

/// `(comm, utime + stime)` from a `/proc/.../stat` file.
fn stat_cpu(path: &Path) -> Option<(String, Duration)> {
    let stat = std::fs::read_to_string(path).ok()?;
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat.get(open + 1..close)?.to_owned();
    // Fields after the command name: state is field 3, utime 14, stime 15.
    let fields: Vec<&str> = stat.get(close + 1..)?.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((comm, Duration::from_millis((utime + stime) * 1000 / USER_HZ)))
}

/// Whose CPU time a column shows.
#[derive(Debug, Clone)]
pub(crate) enum Cpu {
    /// A whole process, all its threads.
    Process(u32),
    /// Threads of this process whose name starts with the prefix.
    OwnThreads(&'static str),
    /// This process's main thread (the load generator's runtime).
    MainThread,
}

impl Cpu {
    pub(crate) fn read(&self) -> Option<Duration> {
        match self {
            Self::Process(pid) => stat_cpu(Path::new(&format!("/proc/{pid}/stat"))).map(|(_, t)| t),
            Self::MainThread => {
                let pid = std::process::id();
                stat_cpu(Path::new(&format!("/proc/self/task/{pid}/stat"))).map(|(_, t)| t)
            }
            Self::OwnThreads(prefix) => {
                let mut total = Duration::ZERO;
                for entry in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
                    if let Some((comm, t)) = stat_cpu(&entry.path().join("stat"))
                        && comm.starts_with(prefix)
                    {
                        total += t;
                    }
                }
                Some(total)
            }
        }
    }
}

/// The commit of the source tree at `dir` (with `-dirty` if it has uncommitted changes).
pub(crate) fn git_commit(dir: &Path) -> String {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    match git(&["rev-parse", "--short", "HEAD"]) {
        Some(hash) => {
            let dirty = git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
            format!("{hash}{}", if dirty { "-dirty" } else { "" })
        }
        None => "unknown".to_owned(),
    }
}
