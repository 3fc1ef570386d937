//! A worker's bytes are untrusted (a buggy task can write anything into its
//! result ring): the manager's reading and decoding of them must refuse
//! garbage, never crash or read out of bounds (docs/verification.md).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    futures::process_pool::fuzzing::worker_bytes(data);
});
