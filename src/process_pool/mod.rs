//! ProcessPoolExecutor (SEMANTICS P1–P18, B1–B13). Being written.
