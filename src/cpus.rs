//! How many CPUs this process may use, for both pools' default sizes.

/// CPUs this process may use: its affinity mask, capped by the cgroup v2 CPU
/// quota (`cpu.max`) of its cgroup and every ancestor; at least 1.
pub fn usable_cpus() -> usize {
    let affinity =
        affinity_cpus().or_else(|| std::thread::available_parallelism().ok().map(|n| n.get()));
    let quota = cgroup_cpu_limit();
    let n = match (affinity, quota) {
        (Some(a), Some(q)) => a.min(q),
        (Some(a), None) => a,
        (None, Some(q)) => q,
        (None, None) => 1,
    };
    n.max(1)
}

fn affinity_cpus() -> Option<usize> {
    // SAFETY: cpu_set_t is plain data; zeroed is a valid empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid, writable cpu_set_t of the size passed.
    let rc =
        unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    if rc != 0 {
        return None; // more than 1024 CPUs, or no affinity support
    }
    // SAFETY: `set` was filled in by the kernel.
    let n = unsafe { libc::CPU_COUNT(&set) };
    usize::try_from(n).ok().filter(|&n| n > 0)
}

/// The tightest `cpu.max` quota on the path from this process's cgroup up to
/// the root, rounded up to whole CPUs; None when unlimited or unknown.
fn cgroup_cpu_limit() -> Option<usize> {
    let root = std::path::Path::new("/sys/fs/cgroup");
    let own = std::fs::read_to_string("/proc/self/cgroup")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("0::").map(str::to_string))
        })
        .unwrap_or_default();
    let mut best: Option<usize> = None;
    let mut rel = std::path::PathBuf::from(own.trim().trim_start_matches('/'));
    loop {
        if let Ok(text) = std::fs::read_to_string(root.join(&rel).join("cpu.max")) {
            if let Some(n) = parse_cpu_max(&text) {
                best = Some(best.map_or(n, |b| b.min(n)));
            }
        }
        if !rel.pop() {
            break;
        }
    }
    best
}

/// Parses cgroup v2 `cpu.max` ("<quota> <period>" or "max <period>").
fn parse_cpu_max(text: &str) -> Option<usize> {
    let mut parts = text.split_whitespace();
    let quota = parts.next()?;
    if quota == "max" {
        return None;
    }
    let quota: u64 = quota.parse().ok()?;
    let period: u64 = parts.next().map_or(Some(100_000), |p| p.parse().ok())?;
    if period == 0 || quota == 0 {
        return None;
    }
    usize::try_from(quota.div_ceil(period))
        .ok()
        .map(|n| n.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_max_parsing() {
        assert_eq!(parse_cpu_max("max 100000\n"), None);
        assert_eq!(parse_cpu_max("200000 100000\n"), Some(2));
        assert_eq!(parse_cpu_max("150000 100000"), Some(2));
        assert_eq!(parse_cpu_max("50000 100000"), Some(1));
        assert_eq!(parse_cpu_max("garbage"), None);
        assert!(usable_cpus() >= 1);
    }
}
