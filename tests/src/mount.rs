//! Mounts a test makes itself, for disk-full and read-only tests: a small tmpfs, a read-only
//! bind mount (needs root or `CAP_SYS_ADMIN`; where mounting fails the test says so and skips).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A mount, unmounted when dropped.
#[derive(Debug)]
pub struct Mount {
    dir: PathBuf,
}

impl Mount {
    /// Mounts a tmpfs of `size` (such as `"2m"`) on `dir`, or says why not on stderr.
    pub fn tmpfs(dir: &Path, size: &str) -> Option<Self> {
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size},mode=0700"), "tmpfs"])
            .arg(dir)
            .output();
        match out {
            Ok(o) if o.status.success() => Some(Self { dir: dir.to_owned() }),
            Ok(o) => {
                eprintln!("SKIPPED: cannot mount a tmpfs on {}: {}", dir.display(), String::from_utf8_lossy(&o.stderr));
                None
            }
            Err(e) => {
                eprintln!("SKIPPED: cannot run mount: {e}");
                None
            }
        }
    }

    /// Makes `dir` read-only: binds it onto itself and remounts that read-only. Files open
    /// before stay writable through their descriptors; nothing new can be created.
    pub fn read_only(dir: &Path) -> Option<Self> {
        let run = |args: &[&str]| Command::new("mount").args(args).arg(dir).arg(dir).output();
        match run(&["--bind"]) {
            Ok(o) if o.status.success() => {}
            other => {
                eprintln!("SKIPPED: cannot bind-mount {}: {other:?}", dir.display());
                return None;
            }
        }
        let mount = Self { dir: dir.to_owned() };
        let ro = Command::new("mount").args(["-o", "remount,bind,ro"]).arg(dir).output();
        match ro {
            Ok(o) if o.status.success() => Some(mount),
            other => {
                eprintln!("SKIPPED: cannot remount {} read-only: {other:?}", dir.display());
                None
            }
        }
    }

    /// Fills it to the last byte with `<dir>/filler`; remove that file to free the space.
    pub fn fill(&self) -> PathBuf {
        let path = self.dir.join("filler");
        let mut f = std::fs::File::create(&path).expect("filler");
        let chunk = vec![0u8; 4096];
        while f.write_all(&chunk).is_ok() {}
        for _ in 0..4096 {
            if f.write_all(&[0]).is_err() {
                break;
            }
        }
        let _ = f.sync_all();
        path
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
    }
}
