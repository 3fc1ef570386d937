//! `fut_thread_pool_*`. Being written.
