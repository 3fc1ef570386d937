//! `fut_process_pool_*`. Being written.
