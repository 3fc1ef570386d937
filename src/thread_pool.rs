//! ThreadPoolExecutor (SEMANTICS T1–T11). Being written.
