//! Child processes (the servers under test) and what /proc says about them: peak RSS (VmHWM),
//! CPU time, the filesystem a path lives on.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

pub struct Proc {
    name: String,
    pub pid: u32,
    child: Child,
    pub log: PathBuf,
}

impl Proc {
    /// Starts `cmd` with stdout and stderr appended to `log`. The child is killed if the harness
    /// drops it without stopping it (e.g. on a panic).
    pub fn spawn(name: &str, mut cmd: Command, log: &Path) -> Result<Proc, String> {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .map_err(|e| format!("{}: {e}", log.display()))?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        cmd.stdin(Stdio::null()).stdout(Stdio::from(out)).stderr(Stdio::from(err)).kill_on_drop(true);
        // Own process group, so a Ctrl-C in the terminal reaches the harness, which stops it.
        cmd.process_group(0);
        let child = cmd.spawn().map_err(|e| format!("cannot start {name}: {e}"))?;
        let pid = child.id().ok_or_else(|| format!("{name} exited at once"))?;
        Ok(Proc { name: name.to_string(), pid, child, log: log.to_path_buf() })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// SIGTERM to the child (and its process group), then SIGKILL after `grace`.
    pub async fn stop(mut self, grace: Duration) {
        if self.exited().is_some() {
            return;
        }
        unsafe {
            libc::kill(-(self.pid as i32), libc::SIGTERM);
        }
        if tokio::time::timeout(grace, self.child.wait()).await.is_err() {
            unsafe {
                libc::kill(-(self.pid as i32), libc::SIGKILL);
            }
            let _ = self.child.wait().await;
        }
    }

    /// The last lines of the log, for error messages.
    pub fn log_tail(&self, lines: usize) -> String {
        log_tail(&self.log, lines)
    }
}

pub fn log_tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A free TCP port on 127.0.0.1 (bound and released; the server binds it right after).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

/// The process and all its descendants (gunicorn's workers).
pub fn tree(pid: u32) -> Vec<u32> {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for entry in dir.flatten() {
            let Some(p) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
            if let Some(pp) = stat_fields(p).and_then(|f| f.get(1).and_then(|x| x.parse::<u32>().ok())) {
                parents.push((p, pp));
            }
        }
    }
    let mut out = vec![pid];
    let mut i = 0;
    while i < out.len() {
        let cur = out[i];
        out.extend(parents.iter().filter(|(_, pp)| *pp == cur).map(|(p, _)| *p));
        i += 1;
    }
    out
}

/// Fields of /proc/PID/stat after the command name: [state, ppid, ...].
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 2..];
    Some(rest.split_whitespace().map(str::to_string).collect())
}

/// A "Name:  N kB" line of /proc/PID/status, in bytes.
fn status_bytes(status: &str, name: &str) -> Option<u64> {
    status
        .lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<u64>().ok())
        .map(|kb| kb * 1024)
}

/// (VmHWM, VmRSS) in bytes.
pub fn memory(pid: u32) -> Option<(u64, u64)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    Some((status_bytes(&s, "VmHWM:")?, status_bytes(&s, "VmRSS:")?))
}

/// (RssAnon, RssFile) in bytes: heap versus mapped files (shared libraries, any mmap).
pub fn rss_split(pid: u32) -> (u64, u64) {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    (status_bytes(&s, "RssAnon:").unwrap_or(0), status_bytes(&s, "RssFile:").unwrap_or(0))
}

/// Peak RSS of a process tree: the sum of each process's VmHWM (an upper bound of the tree's peak).
pub fn tree_peak_rss(pid: u32) -> u64 {
    tree(pid).into_iter().filter_map(memory).map(|(hwm, _)| hwm).sum()
}

/// User + system CPU seconds of a process tree (live processes only).
pub fn tree_cpu_seconds(pid: u32) -> f64 {
    let tck = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    tree(pid)
        .into_iter()
        .filter_map(stat_fields)
        .map(|f| {
            // utime and stime are fields 14 and 15 of stat; index 11 and 12 after the name.
            let u = f.get(11).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0);
            let s = f.get(12).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0);
            (u + s) / tck
        })
        .sum()
}

pub fn self_cpu_seconds() -> f64 {
    let tck = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    stat_fields(std::process::id())
        .map(|f| {
            let u = f.get(11).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0);
            let s = f.get(12).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0);
            (u + s) / tck
        })
        .unwrap_or(0.0)
}

/// Filesystem type and mount point of `path` (from /proc/mounts).
pub fn filesystem(path: &Path) -> String {
    let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    let mut best: Option<(usize, String)> = None;
    for line in mounts.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 3 {
            continue;
        }
        if path.starts_with(f[1]) && best.as_ref().is_none_or(|(len, _)| f[1].len() > *len) {
            best = Some((f[1].len(), format!("{} on {} ({})", f[2], f[1], f[0])));
        }
    }
    best.map(|b| b.1).unwrap_or_else(|| "unknown".into())
}

pub fn file_size(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

pub fn kernel() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease").map(|s| s.trim().to_string()).unwrap_or_default()
}

pub fn total_memory_bytes() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

/// Polls `check` until it answers true or `limit` passes.
pub async fn wait_until<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while start.elapsed() < limit {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// CPU seconds used in user space and by the kernel on behalf of processes, machine-wide
/// (user + nice + system of /proc/stat, minus the kernel's own threads: their I/O and
/// writeback work is mostly caused by the server under test).
pub fn machine_busy_seconds() -> f64 {
    let tck = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(line) = stat.lines().find(|l| l.starts_with("cpu ")) else { return 0.0 };
    let f: Vec<f64> = line.split_whitespace().skip(1).filter_map(|x| x.parse().ok()).collect();
    let busy = f.iter().take(3).sum::<f64>() / tck;
    busy - kernel_threads_cpu_seconds()
}

/// CPU time stolen by the hypervisor (other virtual machines), machine-wide.
pub fn steal_seconds() -> f64 {
    let tck = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    stat.lines()
        .find(|l| l.starts_with("cpu "))
        .and_then(|l| l.split_whitespace().nth(8).and_then(|v| v.parse::<f64>().ok()))
        .map(|v| v / tck)
        .unwrap_or(0.0)
}

fn kernel_threads_cpu_seconds() -> f64 {
    let tck = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let mut total = 0.0;
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for entry in dir.flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
            let Some(f) = stat_fields(pid) else { continue };
            let ppid = f.get(1).and_then(|x| x.parse::<u32>().ok()).unwrap_or(0);
            if pid == 2 || ppid == 2 {
                let u = f.get(11).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0);
                let s = f.get(12).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0);
                total += (u + s) / tck;
            }
        }
    }
    total
}

/// (read_bytes, write_bytes) the process tree caused at the storage layer (/proc/PID/io).
pub fn tree_io_bytes(pid: u32) -> (u64, u64) {
    let mut total = (0, 0);
    for p in tree(pid) {
        let s = std::fs::read_to_string(format!("/proc/{p}/io")).unwrap_or_default();
        let field = |name: &str| {
            s.lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        total.0 += field("read_bytes:");
        total.1 += field("write_bytes:");
    }
    total
}
