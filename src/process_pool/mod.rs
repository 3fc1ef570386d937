//! ProcessPoolExecutor (P1–P18, B1–B13, X10–X16): tasks run in
//! forked worker processes behind the same future API, so that a crash in a
//! task ends a worker, not the host.
//!
//! - `shared`: what submitters share with the management thread.
//! - `manager`: the management thread: its loop, start and shutdown
//!   (`mod.rs`), `dispatch`, `results`, `events` (poll), `deaths` (and the
//!   crash policy), `server` (the fork server as the manager sees it),
//!   `fault` (its panic boundary).
//! - `worker`: the worker loop, run in a forked child.
//! - `fork_server`: the single-threaded server that forks later workers.
//! - `spawn`: the spawn start method: workers started by `posix_spawn`.
//! - `wire`: framing on the pipes, the result rings and the fork server's
//!   socket.
//! - `ring`: the shared-memory ring that carries a worker's results.
//! - `sys`: raw system calls.

mod flow;
mod fork_server;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod manager;
mod ring;
mod shared;
mod spawn;
mod sys;
#[cfg(test)]
mod tests;
mod values;
mod wire;
mod worker;

use crate::executor::{Executor, Item, Refused, Task, TaskFn};
use crate::future::Future;
use crate::status::Status;
use crate::sync::Mutex;
use manager::ManagerConfig;
use shared::{CallReq, Shared, Work};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

pub use spawn::{worker_entry, WORKER_FLAG};
pub use worker::{in_worker, InitFn};

/// Largest accepted `max_workers`.
pub const MAX_WORKERS: usize = 1024;

/// How workers are started.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum StartMethod {
    /// Every worker is forked by the manager thread when the pool starts.
    Fork,
    /// Workers are forked on demand by a fork server started with the pool.
    ForkServer,
    /// Workers are new processes started on demand by `posix_spawn` of a
    /// program (N5); tasks travel by registered name.
    Spawn,
}

/// What a worker's death does.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum CrashPolicy {
    /// Python's behaviour: the pool breaks; every outstanding future fails.
    BreakPool,
    /// Only the task the dead worker ran fails; the worker is replaced.
    FailTask,
}

/// Options of a process pool (`fut_process_pool_options`).
pub struct Config {
    /// 0: the number of usable CPUs.
    pub max_workers: usize,
    pub start_method: StartMethod,
    /// Set through `set_initializer`: the pool calls it in every worker.
    pub(crate) initializer: Option<InitFn>,
    pub(crate) initializer_arg: Vec<u8>,
    /// 0: unlimited. Not with `StartMethod::Fork`.
    pub max_tasks_per_child: usize,
    pub on_worker_crash: CrashPolicy,
    /// None: no limit.
    pub task_time_limit: Option<Duration>,
    /// `StartMethod::Spawn`: the worker program (None: this executable).
    pub worker_program: Option<std::ffi::CString>,
    /// The bound on queued calls and the task observer (Q1, Q9).
    pub flow: crate::flow::FlowOptions,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_workers: 0,
            start_method: StartMethod::ForkServer,
            initializer: None,
            initializer_arg: Vec::new(),
            max_tasks_per_child: 0,
            on_worker_crash: CrashPolicy::BreakPool,
            task_time_limit: None,
            worker_program: None,
            flow: crate::flow::FlowOptions::default(),
        }
    }
}

impl Config {
    /// Runs `func(arg, arg.len())` in every worker before its first task;
    /// a non-zero answer breaks the pool.
    ///
    /// # Safety
    /// `func` must be safe to call, in a forked child of this process, with
    /// a pointer to a copy of `arg` and its length, and must touch no lock
    /// that another thread of this process may hold.
    pub unsafe fn set_initializer(&mut self, func: InitFn, arg: Vec<u8>) {
        self.initializer = Some(func);
        self.initializer_arg = arg;
    }
}

/// A pool of worker processes.
pub struct ProcessPool {
    shared: Arc<Shared>,
    /// A spawn pool: calls carry registry ids, not addresses.
    spawn: bool,
    max_workers: usize,
    manager: Mutex<Option<JoinHandle<()>>>,
}

impl ProcessPool {
    /// Validates `config`, starts the manager thread and waits until it has
    /// forked the pool's first processes (or failed to).
    pub fn new(config: Config) -> Result<ProcessPool, Status> {
        let max_workers = match config.max_workers {
            0 => crate::cpus::usable_cpus().min(MAX_WORKERS),
            n if n > MAX_WORKERS => return Err(Status::InvalidArgument),
            n => n,
        };
        if config.start_method == StartMethod::Fork && config.max_tasks_per_child != 0 {
            return Err(Status::InvalidArgument);
        }
        if config.task_time_limit == Some(Duration::ZERO) {
            return Err(Status::InvalidArgument);
        }
        let by_name = match config.start_method {
            StartMethod::Spawn => Some(spawn_setup(&config)?),
            _ => None,
        };
        let program = config
            .worker_program
            .unwrap_or_else(|| spawn::SELF_EXE.to_owned());
        let wake = sys::eventfd().map_err(|_| Status::Os)?;
        let shared = Arc::new(Shared::new(wake, config.flow));
        let mcfg = ManagerConfig {
            max_workers,
            start_method: config.start_method,
            policy: config.on_worker_crash,
            time_limit: config.task_time_limit,
            worker: worker::WorkerConfig {
                initializer: config.initializer,
                initializer_arg: config.initializer_arg,
                max_tasks: config.max_tasks_per_child,
                by_name,
            },
            program,
            inject_panic: manager::manager_panic_requested(),
        };
        let by_name_pool = mcfg.worker.by_name.is_some();
        let (tx, rx) = start_signal();
        let for_manager = Arc::clone(&shared);
        let handle = std::thread::Builder::new()
            .name("fut-procpool".into())
            .spawn(move || manager::run(for_manager, mcfg, tx))
            .map_err(|_| Status::Os)?;
        match rx.recv() {
            Some(Ok(())) => Ok(ProcessPool {
                shared,
                spawn: by_name_pool,
                max_workers,
                manager: Mutex::new(Some(handle)),
            }),
            Some(Err(errno)) => {
                let _ = handle.join();
                crate::log::log(&format!(
                    "process pool: cannot start workers: {}",
                    std::io::Error::from_raw_os_error(errno)
                ));
                Err(if errno == libc::ENOMEM {
                    Status::NoMemory
                } else {
                    Status::Os
                })
            }
            None => {
                let _ = handle.join();
                Err(Status::Internal)
            }
        }
    }

    /// The word a call carries for `func`: the function's address, or for
    /// a spawn pool its registry id + 1 (never 0, which the wire refuses;
    /// N3: unregistered is refused).
    fn task_word(&self, func: TaskFn) -> Result<usize, Status> {
        if !self.spawn {
            return Ok(func as usize);
        }
        match crate::task_registry::task_id_of(func) {
            Some(id) => Ok(id as usize + 1),
            None => {
                crate::log::log(&format!(
                    "process pool: task function {:p} is not registered \
                     (fut_register_task): a spawn pool's workers find tasks by name",
                    func as *const ()
                ));
                Err(Status::NotRegistered)
            }
        }
    }

    fn on_manager_thread(&self) -> bool {
        manager::MANAGER_OF.with(|m| m.get()) == Arc::as_ptr(&self.shared) as usize
    }

    fn next_id(&self) -> u64 {
        self.shared
            .next_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }
}

impl Executor for ProcessPool {
    /// Copies the argument's bytes now; the argument's destructor runs once
    /// the submit was accepted (the bytes are ours then).
    fn submit(&self, task: Task) -> Result<Future, Refused> {
        self.submit_within(task, None)
    }

    fn flow(&self) -> Option<&dyn crate::flow::Flow> {
        Some(self)
    }

    /// E9/E14: groups consecutive items into calls of `chunksize` (one
    /// message each, whose frame is built here: one buffer per chunk); each
    /// item keeps its own future, so an error stays at its position. With a
    /// bound (Q1), each call waits for room in turn; a refusal cancels the
    /// calls queued before it.
    fn submit_many(
        &self,
        func: TaskFn,
        items: &[Item],
        chunksize: usize,
    ) -> Result<Vec<Future>, Status> {
        let (futures, calls) = self.build_calls(func, items, chunksize)?;
        if !self.shared.bound.is_bounded() {
            self.shared.push(calls)?;
            return Ok(futures);
        }
        let bounded = !self.on_manager_thread();
        for call in calls {
            if let Err((status, _)) = self.shared.push_bounded(call, None, bounded) {
                for f in &futures {
                    f.cancel();
                }
                return Err(status);
            }
        }
        Ok(futures)
    }

    /// E6/P13: with `cancel_futures`, every future still queued (not yet
    /// handed towards a worker) is cancelled before this returns.
    fn shutdown(&self, wait: bool, cancel_futures: bool) -> Result<(), Status> {
        self.shutdown_impl(wait, cancel_futures)
    }

    /// The bytes go into the call's frame at submit.
    fn copies_arguments(&self) -> bool {
        true
    }
}

impl ProcessPool {
    /// Q1: submit, waiting for room until `deadline`; never from the
    /// manager thread (done-callbacks), which is what frees room.
    fn submit_within(
        &self,
        task: Task,
        deadline: Option<std::time::Instant>,
    ) -> Result<Future, Refused> {
        // SAFETY: the C contract makes `arg` readable for `arg_len` bytes.
        let bytes = unsafe { task.arg.bytes() };
        let func = match self.task_word(task.func) {
            Ok(w) => w,
            Err(status) => return Err(Refused { status, task }),
        };
        let id = self.next_id();
        let mut frame = wire::CallBuilder::new(func, 1, bytes.len());
        let arg = frame.push(id, bytes);
        let future = Future::with_spin_on_wait(true);
        let call = CallReq {
            func,
            frame: Arc::new(frame.finish()),
            items: vec![Work {
                id,
                future: future.clone(),
                arg,
            }],
            queued_at: std::time::Instant::now(),
        };
        let bounded = !self.on_manager_thread();
        match self.shared.push_bounded(call, deadline, bounded) {
            Ok(()) => {
                drop(task); // runs arg_drop: the bytes were copied
                Ok(future)
            }
            Err((status, _)) => Err(Refused { status, task }),
        }
    }

    /// The calls of a map: `chunksize` items each, their futures.
    #[allow(clippy::type_complexity)]
    fn build_calls(
        &self,
        func: TaskFn,
        items: &[Item],
        chunksize: usize,
    ) -> Result<(Vec<Future>, Vec<CallReq>), Status> {
        if self.shared.forked_away() {
            // Before any lock the parent's threads may have held at fork.
            return Err(Status::Shutdown);
        }
        let chunksize = chunksize.max(1);
        let func = self.task_word(func)?;
        let mut futures = Vec::with_capacity(items.len());
        let mut calls = Vec::with_capacity(items.len().div_ceil(chunksize));
        // One id per item, taken at once: consecutive within the map.
        let first_id = self
            .shared
            .next_id
            .fetch_add(items.len() as u64, std::sync::atomic::Ordering::Relaxed);
        let mut id = first_id;
        let n_calls = items.len().div_ceil(chunksize);
        let (mut frames, mut lists) = self.shared.spares.lock().take(n_calls);
        for chunk in items.chunks(chunksize) {
            let arg_bytes = chunk.iter().map(|i| i.arg_len).sum();
            let buf = frames.pop().unwrap_or_default();
            let mut frame = wire::CallBuilder::reusing(buf, func, chunk.len(), arg_bytes);
            let mut works = lists.pop().unwrap_or_default();
            works.reserve(chunk.len());
            for item in chunk {
                let bytes: &[u8] = if item.arg.is_null() || item.arg_len == 0 {
                    &[]
                } else {
                    // SAFETY: the caller of map promises `arg_len` readable bytes.
                    unsafe { std::slice::from_raw_parts(item.arg as *const u8, item.arg_len) }
                };
                let future = Future::with_spin_on_wait(true);
                futures.push(future.clone());
                let arg = frame.push(id, bytes);
                works.push(Work { id, future, arg });
                id += 1;
            }
            calls.push(CallReq {
                func,
                frame: Arc::new(frame.finish()),
                items: works,
                queued_at: std::time::Instant::now(),
            });
        }
        if !frames.is_empty() || !lists.is_empty() {
            self.shared.spares.lock().absorb(&mut frames, &mut lists);
        }
        Ok((futures, calls))
    }

    fn shutdown_impl(&self, wait: bool, cancel_futures: bool) -> Result<(), Status> {
        if self.shared.forked_away() {
            // X11: the pool belongs to an ancestor process.
            return Err(Status::Shutdown);
        }
        self.shared.begin_shutdown(cancel_futures);
        if !wait {
            return Ok(());
        }
        if self.on_manager_thread() {
            return Err(Status::WouldDeadlock);
        }
        let handle = self.manager.lock().take();
        if let Some(h) = handle {
            let _ = h.join();
        }
        self.shared.wait_finished();
        Ok(())
    }
}

impl Drop for ProcessPool {
    /// E8: a pool dropped without shutdown finishes its work, then stops.
    fn drop(&mut self) {
        let handle = self.manager.get_mut().take();
        if self.shared.forked_away() {
            // The manager thread does not exist in this process.
            std::mem::forget(handle);
            return;
        }
        let _ = self.shutdown(false, false);
        drop(handle); // detached: it exits by itself once the work is done
    }
}

/// Checks a spawn pool's options (N5, N8): its program can be executed,
/// its initializer is registered; answers how workers find the initializer.
fn spawn_setup(config: &Config) -> Result<worker::ByName, Status> {
    if spawn::started_as_worker() {
        crate::log::log(if in_worker() {
            "process pool: a spawn pool's worker cannot start spawn pools of its own"
        } else {
            "process pool: this process was started as a spawn pool's worker: \
             its main() must call fut_worker_entry() before anything else"
        });
        return Err(Status::InvalidState);
    }
    let program = config.worker_program.as_deref().unwrap_or(spawn::SELF_EXE);
    if let Err(errno) = spawn::check_program(program) {
        crate::log::log(&format!(
            "process pool: worker program {}: {}",
            program.to_string_lossy(),
            std::io::Error::from_raw_os_error(errno)
        ));
        return Err(Status::Os);
    }
    let initializer = match config.initializer {
        None => None,
        Some(f) => match crate::task_registry::initializer_name_of(f) {
            Some(name) => Some(name),
            None => {
                crate::log::log(&format!(
                    "process pool: initializer {:p} is not registered \
                     (fut_register_initializer): a spawn pool's workers find it by name",
                    f as *const ()
                ));
                return Err(Status::NotRegistered);
            }
        },
    };
    Ok(worker::ByName { initializer })
}

/// How the manager thread reports its start (the forks) to the creating
/// thread. Not `std::sync::mpsc`: blocking on it makes std allocate a
/// thread handle for the host's own thread, which is never freed (a
/// "possibly lost" block under valgrind for every C program).
struct StartSignal {
    report: crate::sync::Mutex<Option<Option<Result<(), i32>>>>,
    ready: crate::sync::Condvar,
}

pub(crate) struct StartSender(Arc<StartSignal>);
struct StartReceiver(Arc<StartSignal>);

fn start_signal() -> (StartSender, StartReceiver) {
    let s = Arc::new(StartSignal {
        report: crate::sync::Mutex::new(None),
        ready: crate::sync::Condvar::new(),
    });
    (StartSender(Arc::clone(&s)), StartReceiver(s))
}

impl StartSender {
    pub(crate) fn send(self, r: Result<(), i32>) {
        self.deliver(Some(r));
    }

    fn deliver(&self, r: Option<Result<(), i32>>) {
        let mut report = self.0.report.lock();
        if report.is_none() {
            *report = Some(r);
            self.0.ready.notify_all();
        }
    }
}

impl Drop for StartSender {
    /// A manager that ends without reporting (a panic) still wakes the
    /// creator, which then answers `FUT_ERR_INTERNAL`.
    fn drop(&mut self) {
        self.deliver(None);
    }
}

impl StartReceiver {
    /// The manager's report; None if it ended without one.
    fn recv(self) -> Option<Result<(), i32>> {
        let mut report = self.0.report.lock();
        while report.is_none() {
            self.0.ready.wait(&mut report);
        }
        report.take().flatten()
    }
}
