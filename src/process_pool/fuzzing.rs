//! Entry points for the fuzz targets (fuzz/, docs/verification.md), built
//! only with the cargo feature `fuzzing`: what a worker process can do to
//! the manager, driven by arbitrary bytes.

use super::ring::{Ring, RING_BYTES};
use super::values::ValueBlocks;
use super::{sys, wire};

/// The ring's header page as `ring` lays it out: `head` (bytes published)
/// at offset 0, `tail` (bytes consumed) at 64, the data area after it.
const HEADER_BYTES: usize = 4096;
const TAIL_AT: usize = 64;

/// The manager's ring and a second mapping of the same memory: the
/// worker's side, written here as a buggy task in a worker could.
struct Scribbled {
    ring: Ring,
    base: *mut u8,
}

thread_local! {
    static RING: Scribbled = {
        let (ring, fd) = Ring::create().expect("a result ring");
        let base = sys::map_shared(fd, HEADER_BYTES + RING_BYTES).expect("its mapping");
        sys::close(fd);
        Scribbled { ring, base }
    };
}

fn word(data: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    for (k, x) in data.iter().skip(at).take(8).enumerate() {
        b[k] = *x;
    }
    u64::from_ne_bytes(b)
}

/// A worker's bytes reach the manager: `data[0]` picks how the worker
/// leaves the ring's header (0: consistent with the bytes it wrote; else
/// the raw `head` and `tail` of `data[1..17]`), the rest are the bytes it
/// wrote into the ring. The manager reads them (`Ring::read_into`) and
/// decodes the complete frames as it does (`wire::complete_frame`,
/// `decode_result`, the value allocator). Nothing may crash or read out
/// of bounds; every decoded piece must lie inside its frame.
pub fn worker_bytes(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let (tail, payload) = (word(rest, 0), rest.get(16..).unwrap_or(&[]));
    let payload = &payload[..payload.len().min(RING_BYTES)];
    let head = if mode == 0 {
        tail.wrapping_add(payload.len() as u64)
    } else {
        word(rest, 8)
    };
    let mut out = Vec::new();
    let read = RING.with(|r| {
        // SAFETY: `base` maps HEADER_BYTES + RING_BYTES bytes, the header's
        // words are 8-aligned at these offsets, and the data writes stay
        // inside the data area (wrapping at RING_BYTES); nothing else uses
        // the ring meanwhile (this thread's own).
        unsafe {
            (r.base as *mut u64).write_volatile(head);
            (r.base.add(TAIL_AT) as *mut u64).write_volatile(tail);
            let at = (tail % RING_BYTES as u64) as usize;
            let first = payload.len().min(RING_BYTES - at);
            let data_area = r.base.add(HEADER_BYTES);
            std::ptr::copy_nonoverlapping(payload.as_ptr(), data_area.add(at), first);
            std::ptr::copy_nonoverlapping(
                payload[first..].as_ptr(),
                data_area,
                payload.len() - first,
            );
        }
        r.ring.read_into(&mut out)
    });
    let n = head.wrapping_sub(tail);
    match read {
        Ok(got) => {
            assert_eq!(got as u64, n);
            assert_eq!(out.len(), got);
            if mode == 0 {
                assert_eq!(out, payload, "the bytes written are the bytes read");
            }
        }
        Err(()) => assert!(n > RING_BYTES as u64, "only a corrupt header is refused"),
    }
    decode_frames(&out);
}

/// The manager's loop over one worker's input (`handle_frames`): frames
/// until one is incomplete or malformed.
fn decode_frames(input: &[u8]) {
    let mut values = ValueBlocks::new();
    let mut start = 0;
    while let Ok(Some((h, total))) = wire::complete_frame(&input[start..]) {
        assert!(total >= wire::HEADER_LEN && start + total <= input.len());
        let frame = &input[start + wire::HEADER_LEN..start + total];
        match h.kind {
            wire::READY | wire::INIT_FAILED => {}
            wire::RESULT => match wire::decode_result(frame) {
                Ok(msg) => check_result(&mut values, frame, msg),
                Err(_) => return,
            },
            // The worker's side of the call pipe, and the fork server's
            // messages: decoded the same way, refused the same way.
            wire::CALL => {
                if let Ok(call) = wire::decode_call(h.aux, frame) {
                    assert!(call.items.iter().all(|(_, r)| r.end <= frame.len()));
                }
            }
            _ => {
                let _ = wire::Ctl::decode(frame);
                return;
            }
        }
        start += total;
    }
}

fn inside(frame: &[u8], part: &[u8]) -> bool {
    let (f, p) = (frame.as_ptr() as usize, part.as_ptr() as usize);
    p >= f && p + part.len() <= f + frame.len()
}

fn check_result(values: &mut ValueBlocks, frame: &[u8], msg: wire::ResultMsg<'_>) {
    match msg.body {
        wire::Body::Value(b) => {
            assert!(inside(frame, b));
            let v = values.value(b);
            assert_eq!(v.len(), b.len());
            if !b.is_empty() {
                // SAFETY: a value holds `len` bytes at `ptr` while it lives.
                let got = unsafe { std::slice::from_raw_parts(v.ptr() as *const u8, v.len()) };
                assert_eq!(got, b, "a value keeps the bytes it was made from");
            }
        }
        wire::Body::Error {
            message, detail, ..
        } => assert!(inside(frame, message) && inside(frame, detail)),
        wire::Body::Cancelled => {}
    }
}
