//! rs_bench: the benchmark suite's thread workloads (B-W1, B-W2, B-W3, B-W5,
//! B-I1) on the Rust `threadpool` crate and on rayon, printing the same JSON
//! lines as lf_bench (see benches/suite/bench_util.h and README.md).
//!
//!   peers_rs --impl threadpool|rayon [--workload ID[,ID...]|all] [--runs N]
//!            [--scale F] [--workers N[,N...]] [--list]
//!
//! Neither has futures: "all done" is a counter whose last bump signals a
//! condition variable (B-W1, B-W5: the done-callback's bump is in the task),
//! a round trip is a channel hand-off (B-W2), results come back through a
//! channel (B-W3), as in GLib's peer.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Barrier, Condvar, Mutex};
use std::time::{Duration, Instant};

/// A pool of either kind, `workers` threads.
enum Pool {
    Tp(threadpool::ThreadPool),
    Rayon(rayon::ThreadPool),
}

impl Pool {
    fn new(kind: &str, workers: usize) -> Pool {
        match kind {
            "threadpool" => Pool::Tp(threadpool::ThreadPool::new(workers)),
            _ => Pool::Rayon(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(workers)
                    .build()
                    .expect("rayon pool"),
            ),
        }
    }

    fn submit(&self, f: impl FnOnce() + Send + 'static) {
        match self {
            Pool::Tp(p) => p.execute(f),
            Pool::Rayon(p) => p.spawn(f),
        }
    }
}

/// Counts finished tasks; the last one signals.
struct Done {
    count: AtomicUsize,
    target: usize,
    flag: Mutex<bool>,
    cv: Condvar,
}

impl Done {
    fn new(target: usize) -> Arc<Done> {
        Arc::new(Done {
            count: AtomicUsize::new(0),
            target,
            flag: Mutex::new(false),
            cv: Condvar::new(),
        })
    }

    fn bump(&self) {
        if self.count.fetch_add(1, Ordering::Relaxed) + 1 == self.target {
            *self.flag.lock().unwrap() = true;
            self.cv.notify_one();
        }
    }

    fn wait(&self) {
        let mut g = self.flag.lock().unwrap();
        while !*g {
            g = self.cv.wait(g).unwrap();
        }
    }
}

struct Cfg {
    kind: String,
    runs: usize,
    scale: f64,
    workers: usize,
}

impl Cfg {
    fn scaled(&self, n: usize, min: usize) -> usize {
        ((n as f64 * self.scale) as usize).max(min)
    }
}

fn emit(c: &Cfg, workload: &str, metric: &str, unit: &str, better: &str, n: usize, v: &[f64]) {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let k = s.len();
    let med = if k % 2 == 1 {
        s[k / 2]
    } else {
        (s[k / 2 - 1] + s[k / 2]) / 2.0
    };
    let runs: Vec<String> = v.iter().map(|x| format!("{x:.6e}")).collect();
    println!(
        "{{\"impl\":\"{}\",\"workload\":\"{workload}\",\"metric\":\"{metric}\",\"unit\":\"{unit}\",\
         \"better\":\"{better}\",\"n\":{n},\"workers\":{},\"median\":{med:.6e},\"min\":{:.6e},\
         \"max\":{:.6e},\"runs\":[{}]}}",
        c.kind,
        c.workers,
        s[0],
        s[k - 1],
        runs.join(",")
    );
}

/// B-W1 (bump: no-op tasks) and B-W5 (the bump stands for the callback).
fn counted(c: &Cfg, workload: &str) {
    let n = c.scaled(200_000, 100);
    let mut v = Vec::new();
    for _ in 0..c.runs {
        let pool = Pool::new(&c.kind, c.workers);
        let done = Done::new(n);
        let t0 = Instant::now();
        for _ in 0..n {
            let d = Arc::clone(&done);
            pool.submit(move || d.bump());
        }
        done.wait();
        v.push(n as f64 / t0.elapsed().as_secs_f64());
    }
    emit(c, workload, "tasks_per_s", "tasks/s", "higher", n, &v);
}

fn w2_once(c: &Cfg, n: usize, pause: Duration) -> (f64, f64) {
    let pool = Pool::new(&c.kind, c.workers);
    let mut lat = Vec::with_capacity(n);
    for i in 0..=n {
        if !pause.is_zero() {
            std::thread::sleep(pause);
        }
        let t0 = Instant::now();
        let (tx, rx) = mpsc::sync_channel::<()>(1);
        pool.submit(move || {
            let _ = tx.send(());
        });
        rx.recv().expect("round trip");
        if i > 0 {
            lat.push(t0.elapsed().as_secs_f64() * 1e6);
        }
    }
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let med = if n % 2 == 1 {
        lat[n / 2]
    } else {
        (lat[n / 2 - 1] + lat[n / 2]) / 2.0
    };
    (med, lat[((0.99 * n as f64) as usize).min(n - 1)])
}

fn w2(c: &Cfg) {
    let (n, n_idle) = (c.scaled(20_000, 100), c.scaled(400, 20));
    let r: Vec<_> = (0..c.runs).map(|_| w2_once(c, n, Duration::ZERO)).collect();
    emit(
        c,
        "B-W2",
        "rt_median_us",
        "us",
        "lower",
        n,
        &r.iter().map(|x| x.0).collect::<Vec<_>>(),
    );
    emit(
        c,
        "B-W2",
        "rt_p99_us",
        "us",
        "lower",
        n,
        &r.iter().map(|x| x.1).collect::<Vec<_>>(),
    );
    let r: Vec<_> = (0..c.runs)
        .map(|_| w2_once(c, n_idle, Duration::from_millis(5)))
        .collect();
    let med: Vec<_> = r.iter().map(|x| x.0).collect();
    emit(c, "B-W2", "idle_rt_median_us", "us", "lower", n_idle, &med);
    let p99: Vec<_> = r.iter().map(|x| x.1).collect();
    emit(c, "B-W2", "idle_rt_p99_us", "us", "lower", n_idle, &p99);
}

/// B-W3: tasks return their index through a channel, drained and summed.
fn w3(c: &Cfg) {
    let n = c.scaled(100_000, 100);
    let mut v = Vec::new();
    for _ in 0..c.runs {
        let pool = Pool::new(&c.kind, c.workers);
        let (tx, rx) = mpsc::channel::<u64>();
        let t0 = Instant::now();
        for i in 0..n as u64 {
            let tx = tx.clone();
            pool.submit(move || {
                let _ = tx.send(i);
            });
        }
        let sum: u64 = rx.iter().take(n).sum();
        let dt = t0.elapsed().as_secs_f64();
        assert_eq!(sum, (n as u64) * (n as u64 - 1) / 2, "B-W3 sum");
        v.push(n as f64 / dt);
    }
    emit(c, "B-W3", "tasks_per_s", "tasks/s", "higher", n, &v);
}

/// Process CPU seconds (every thread) and context switches so far.
fn cpu_s() -> (f64, i64) {
    // SAFETY: plain libc calls filling structs we own (zeroed is valid for both).
    unsafe {
        let mut ts: libc::timespec = std::mem::zeroed();
        libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts);
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut ru);
        (
            ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9,
            ru.ru_nvcsw + ru.ru_nivcsw,
        )
    }
}

/// B-I1: CPU time of a 4-worker pool (all started by 4 tasks meeting at a
/// barrier) left idle for 1 s.
fn i1(c: &Cfg) {
    let idle = if c.scale < 1.0 { 0.1 } else { 1.0 };
    let (mut cpu, mut sw) = (Vec::new(), Vec::new());
    let c4 = Cfg {
        workers: 4,
        kind: c.kind.clone(),
        ..*c
    };
    for _ in 0..c.runs {
        let pool = Pool::new(&c.kind, 4);
        let barrier = Arc::new(Barrier::new(5));
        for _ in 0..4 {
            let b = Arc::clone(&barrier);
            pool.submit(move || {
                b.wait();
            });
        }
        barrier.wait();
        std::thread::sleep(Duration::from_millis(50));
        let (c0, s0) = cpu_s();
        std::thread::sleep(Duration::from_secs_f64(idle));
        let (c1, s1) = cpu_s();
        cpu.push((c1 - c0) * 1e3 / idle);
        sw.push((s1 - s0) as f64 / idle);
        drop(pool);
    }
    emit(
        &c4,
        "B-I1",
        "idle_cpu_ms_per_s",
        "ms CPU/s",
        "lower",
        4,
        &cpu,
    );
    emit(
        &c4,
        "B-I1",
        "idle_ctx_switches_per_s",
        "switches/s",
        "lower",
        4,
        &sw,
    );
}

const WORKLOADS: [&str; 5] = ["B-W1", "B-W2", "B-W3", "B-W5", "B-I1"];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mut kind, mut which, mut runs, mut scale, mut workers) = (
        String::new(),
        "all".to_string(),
        5usize,
        1.0f64,
        vec![2usize],
    );
    let mut i = 0;
    while i < args.len() {
        let val = args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--list" => {
                println!("{}", WORKLOADS.join("\n"));
                return;
            }
            "--impl" => kind = val,
            "--workload" => which = val,
            "--runs" => runs = val.parse().unwrap_or(0),
            "--scale" => scale = val.parse().unwrap_or(0.0),
            "--workers" => {
                workers = val.split(',').map(|x| x.parse().unwrap_or(0)).collect();
            }
            other => {
                eprintln!("peers_rs: unknown argument {other}");
                std::process::exit(2);
            }
        }
        i += 2;
    }
    let valid = (kind == "threadpool" || kind == "rayon")
        && (1..=100).contains(&runs)
        && scale > 0.0
        && workers.iter().all(|w| (1..=1024).contains(w));
    if !valid {
        eprintln!("usage: peers_rs --impl threadpool|rayon [--workload IDs|all] [--runs 1..100] [--scale F>0] [--workers N,...]");
        std::process::exit(2);
    }
    let chosen: Vec<&str> = if which == "all" {
        WORKLOADS.to_vec()
    } else {
        which.split(',').collect()
    };
    for w in WORKLOADS.iter().filter(|w| chosen.contains(w)) {
        let counts = if *w == "B-I1" {
            vec![4]
        } else {
            workers.clone()
        };
        for n in counts {
            let c = Cfg {
                kind: kind.clone(),
                runs,
                scale,
                workers: n,
            };
            match *w {
                "B-W1" => counted(&c, "B-W1"),
                "B-W2" => w2(&c),
                "B-W3" => w3(&c),
                "B-W5" => counted(&c, "B-W5"),
                _ => i1(&c),
            }
        }
    }
}
