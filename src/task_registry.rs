//! The task registry (N1–N4): task functions and initializers known by a
//! name, process-wide.
//!
//! A function pointer means something only inside one process image; a name
//! means the same thing in every process that registered it. Spawn pools
//! (whose workers are new processes, not forks) send names, and the workers
//! look them up in their own registry. Entries are never removed: an id, once
//! given, names the same entry for the life of the process, so callers may
//! cache it.
//!
//! The lock is a `ForkMutex`: a host `fork()` while another thread registers
//! leaves the child a usable registry.

use crate::executor::{InitFn, TaskFn};
use crate::fork::ForkMutex;
use crate::status::Status;
use std::collections::HashMap;
use std::sync::Arc;

// Keeps cbindgen from copying this into the header (the skin has its own).
#[allow(unused_doc_comments)]
/// Longest name, in bytes.
/// cbindgen:ignore
pub const MAX_NAME_LEN: usize = 255;

/// What a registered name stands for.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    Task,
    Initializer,
}

impl Kind {
    fn word(self) -> &'static str {
        match self {
            Kind::Task => "task",
            Kind::Initializer => "initializer",
        }
    }
}

/// Why a registration was refused: the status, and a sentence for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: Status,
    pub detail: String,
}

struct Entry {
    name: Arc<str>,
    addr: usize,
}

struct Registry {
    entries: Vec<Entry>,
    by_name: HashMap<(Kind, Arc<str>), u32>,
    /// The first name a function was registered under.
    by_addr: HashMap<(Kind, usize), u32>,
}

static REGISTRY: ForkMutex<Option<Registry>> = ForkMutex::new(None);

fn with_registry<R>(f: impl FnOnce(&mut Registry) -> R) -> R {
    let mut guard = REGISTRY.lock();
    let reg = guard.get_or_insert_with(|| Registry {
        entries: Vec::new(),
        by_name: HashMap::new(),
        by_addr: HashMap::new(),
    });
    f(reg)
}

/// Checks a name (N1): 1 to 255 bytes of UTF-8.
pub fn check_name(name: &[u8]) -> Result<&str, Refusal> {
    let bad = |why: String| Refusal {
        status: Status::InvalidArgument,
        detail: why,
    };
    if name.is_empty() {
        return Err(bad("a task name must not be empty".into()));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(bad(format!(
            "a task name is at most {MAX_NAME_LEN} bytes (this one has {})",
            name.len()
        )));
    }
    std::str::from_utf8(name).map_err(|e| bad(format!("a task name must be UTF-8: {e}")))
}

fn register(kind: Kind, name: &[u8], addr: usize) -> Result<u32, Refusal> {
    let name = check_name(name)?;
    with_registry(|reg| {
        if let Some(&id) = reg.by_name.get(&(kind, Arc::from(name))) {
            let e = &reg.entries[id as usize];
            if e.addr == addr {
                return Ok(id); // N1: the same pair again is fine
            }
            return Err(Refusal {
                status: Status::InvalidArgument,
                detail: format!(
                    "{} name '{name}' is already registered for another function",
                    kind.word()
                ),
            });
        }
        let id = u32::try_from(reg.entries.len()).map_err(|_| Refusal {
            status: Status::NoMemory,
            detail: "too many registered names".into(),
        })?;
        let name: Arc<str> = Arc::from(name);
        reg.entries.push(Entry {
            name: Arc::clone(&name),
            addr,
        });
        reg.by_name.insert((kind, name), id);
        reg.by_addr.entry((kind, addr)).or_insert(id);
        Ok(id)
    })
}

/// Registers `func` as the task `name`; answers its id.
pub fn register_task(name: &[u8], func: TaskFn) -> Result<u32, Refusal> {
    register(Kind::Task, name, func as usize)
}

/// Registers `func` as the initializer `name`; answers its id.
pub fn register_initializer(name: &[u8], func: InitFn) -> Result<u32, Refusal> {
    register(Kind::Initializer, name, func as usize)
}

fn lookup_name(kind: Kind, name: &str) -> Option<(u32, usize)> {
    with_registry(|reg| {
        let id = *reg.by_name.get(&(kind, Arc::from(name)))?;
        Some((id, reg.entries[id as usize].addr))
    })
}

/// The task registered as `name`: its id and function.
pub fn task_by_name(name: &str) -> Option<(u32, TaskFn)> {
    let (id, addr) = lookup_name(Kind::Task, name)?;
    // SAFETY: only `register_task` stores task entries, from a `TaskFn`.
    Some((id, unsafe { std::mem::transmute::<usize, TaskFn>(addr) }))
}

/// The initializer registered as `name`.
pub fn initializer_by_name(name: &str) -> Option<InitFn> {
    let (_, addr) = lookup_name(Kind::Initializer, name)?;
    // SAFETY: only `register_initializer` stores initializer entries.
    Some(unsafe { std::mem::transmute::<usize, InitFn>(addr) })
}

thread_local! {
    /// The last (function, id) `task_id_of` found on this thread: an id,
    /// once given to a function, never changes (N4), so a submitting loop
    /// takes no lock.
    static LAST_TASK: std::cell::Cell<(usize, u32)> = const { std::cell::Cell::new((0, 0)) };
}

/// The id of the first name `func` was registered under as a task (N3).
pub fn task_id_of(func: TaskFn) -> Option<u32> {
    let addr = func as usize;
    let (last, id) = LAST_TASK.with(|c| c.get());
    if last == addr {
        return Some(id);
    }
    let id = with_registry(|reg| reg.by_addr.get(&(Kind::Task, addr)).copied())?;
    LAST_TASK.with(|c| c.set((addr, id)));
    Some(id)
}

/// The first name `func` was registered under as an initializer.
pub fn initializer_name_of(func: InitFn) -> Option<Arc<str>> {
    with_registry(|reg| {
        let id = *reg.by_addr.get(&(Kind::Initializer, func as usize))?;
        Some(Arc::clone(&reg.entries[id as usize].name))
    })
}

/// The name of entry `id`.
pub fn name_of(id: u32) -> Option<Arc<str>> {
    with_registry(|reg| reg.entries.get(id as usize).map(|e| Arc::clone(&e.name)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::c_void;

    unsafe extern "C" fn t1(_: *mut c_void, _: *const c_void, _: usize) -> i32 {
        1
    }
    unsafe extern "C" fn t2(_: *mut c_void, _: *const c_void, _: usize) -> i32 {
        2
    }
    unsafe extern "C" fn i1(_: *const c_void, _: usize) -> i32 {
        0
    }

    #[test]
    fn names_are_checked() {
        assert!(check_name(b"").is_err());
        assert!(check_name(&[b'a'; 256]).is_err());
        assert!(check_name(&[b'a'; 255]).is_ok());
        assert!(check_name(b"\xff\xfe").is_err());
        assert_eq!(check_name("żółw".as_bytes()).unwrap(), "żółw");
    }

    #[test]
    fn register_lookup_and_conflicts() {
        let a = register_task(b"registry-test-a", t1).unwrap();
        assert_eq!(register_task(b"registry-test-a", t1).unwrap(), a);
        let e = register_task(b"registry-test-a", t2).unwrap_err();
        assert_eq!(e.status, Status::InvalidArgument);
        assert!(e.detail.contains("registry-test-a"), "{}", e.detail);
        let (id, f) = task_by_name("registry-test-a").unwrap();
        assert_eq!((id, f as usize), (a, t1 as *const () as usize));
        assert_eq!(task_id_of(t1), Some(a));
        assert_eq!(&*name_of(a).unwrap(), "registry-test-a");
        // A second name for t1: lookups by address keep the first.
        let b = register_task(b"registry-test-b", t1).unwrap();
        assert_ne!(a, b);
        assert_eq!(task_id_of(t1), Some(a));
        assert!(task_by_name("registry-test-missing").is_none());
        // Initializers have names of their own.
        register_initializer(b"registry-test-a", i1).unwrap();
        assert_eq!(
            initializer_by_name("registry-test-a").map(|f| f as usize),
            Some(i1 as *const () as usize)
        );
        assert_eq!(&*initializer_name_of(i1).unwrap(), "registry-test-a");
    }
}
