//! Framing between the pool and its worker processes.
//!
//! Every message is a 16-byte header (kind: u32, aux: u32, payload length:
//! u64, native byte order: both ends are the same program) followed by the
//! payload. Parent → worker: `CALL` (a function pointer and one or more
//! items, each with its task id and argument bytes) and `STOP`. Worker →
//! parent: `READY` (initializer done), `INIT_FAILED` (aux = its code) and one
//! `RESULT` per item, in the order the items were sent.

use std::fmt;
use std::sync::Arc;

pub(crate) const HEADER_LEN: usize = 16;
/// Larger frames are treated as corruption (1 TiB).
pub(crate) const MAX_PAYLOAD: u64 = 1 << 40;

pub(crate) const CALL: u32 = 1;
pub(crate) const STOP: u32 = 2;
pub(crate) const READY: u32 = 0x10;
pub(crate) const INIT_FAILED: u32 = 0x11;
pub(crate) const RESULT: u32 = 0x12;

/// Items at least this large travel as their own segment (no copy into the
/// frame buffer).
const INLINE_MAX: usize = 64 * 1024;

/// A malformed frame: the peer is not speaking our protocol any more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WireError(pub String);

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "protocol error: {}", self.0)
    }
}

fn bad<T>(what: &str) -> Result<T, WireError> {
    Err(WireError(what.to_string()))
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    pub kind: u32,
    pub aux: u32,
    pub len: u64,
}

pub(crate) fn header(kind: u32, aux: u32, len: u64) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[0..4].copy_from_slice(&kind.to_ne_bytes());
    h[4..8].copy_from_slice(&aux.to_ne_bytes());
    h[8..16].copy_from_slice(&len.to_ne_bytes());
    h
}

pub(crate) fn parse_header(h: &[u8; HEADER_LEN]) -> Result<Header, WireError> {
    let hd = Header {
        kind: u32::from_ne_bytes(h[0..4].try_into().unwrap()),
        aux: u32::from_ne_bytes(h[4..8].try_into().unwrap()),
        len: u64::from_ne_bytes(h[8..16].try_into().unwrap()),
    };
    if hd.len > MAX_PAYLOAD {
        return bad("frame too large");
    }
    Ok(hd)
}

/// The first complete frame in `buf`: its header and total length. Ok(None)
/// until the whole frame is there; `Err` on a malformed header.
pub(crate) fn complete_frame(buf: &[u8]) -> Result<Option<(Header, usize)>, WireError> {
    if buf.len() < HEADER_LEN {
        return Ok(None);
    }
    let h = parse_header(buf[..HEADER_LEN].try_into().unwrap())?;
    let total = HEADER_LEN + h.len as usize;
    Ok(if buf.len() >= total {
        Some((h, total))
    } else {
        None
    })
}

/// How many bytes the frame starting `buf` needs in total, once its header
/// is there (to reserve room for a large payload at once).
pub(crate) fn frame_len_hint(buf: &[u8]) -> Option<usize> {
    if buf.len() < HEADER_LEN {
        return None;
    }
    parse_header(buf[..HEADER_LEN].try_into().unwrap())
        .ok()
        .map(|h| HEADER_LEN + h.len as usize)
}

struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        if self.buf.len() < n {
            return bad("truncated payload");
        }
        let (a, b) = self.buf.split_at(n);
        self.buf = b;
        Ok(a)
    }
    fn u64(&mut self) -> Result<u64, WireError> {
        Ok(u64::from_ne_bytes(self.take(8)?.try_into().unwrap()))
    }
    fn u32(&mut self) -> Result<u32, WireError> {
        Ok(u32::from_ne_bytes(self.take(4)?.try_into().unwrap()))
    }
    fn i32(&mut self) -> Result<i32, WireError> {
        Ok(i32::from_ne_bytes(self.take(4)?.try_into().unwrap()))
    }
}

/// One item of a call: its task id and argument bytes (shared with the
/// work table, which keeps them until the item is answered).
pub(crate) struct CallItem {
    pub task_id: u64,
    pub arg: Arc<Vec<u8>>,
}

/// A piece of an outgoing frame.
pub(crate) enum Seg {
    Bytes(Vec<u8>),
    Shared(Arc<Vec<u8>>),
}

impl Seg {
    pub(crate) fn as_slice(&self) -> &[u8] {
        match self {
            Seg::Bytes(v) => v,
            Seg::Shared(a) => a,
        }
    }
}

/// Encodes a `CALL` frame as segments to write in order: small items are
/// copied into the running segment, large ones are written from their
/// shared buffer (no copy).
pub(crate) fn encode_call(func: usize, items: &[CallItem]) -> Vec<Seg> {
    let payload_len: usize = 8 + items.iter().map(|i| 16 + i.arg.len()).sum::<usize>();
    let n = items.len() as u32;
    let mut segs = Vec::new();
    let mut cur = Vec::with_capacity(HEADER_LEN + payload_len.min(INLINE_MAX * 2));
    cur.extend_from_slice(&header(CALL, n, payload_len as u64));
    cur.extend_from_slice(&(func as u64).to_ne_bytes());
    for item in items {
        cur.extend_from_slice(&item.task_id.to_ne_bytes());
        cur.extend_from_slice(&(item.arg.len() as u64).to_ne_bytes());
        if item.arg.len() >= INLINE_MAX {
            segs.push(Seg::Bytes(std::mem::take(&mut cur)));
            segs.push(Seg::Shared(Arc::clone(&item.arg)));
        } else {
            cur.extend_from_slice(&item.arg);
        }
    }
    if !cur.is_empty() {
        segs.push(Seg::Bytes(cur));
    }
    segs
}

/// A decoded `CALL` payload: the function and each item's (task id, byte
/// range in the payload).
pub(crate) struct Call {
    pub func: usize,
    pub items: Vec<(u64, std::ops::Range<usize>)>,
}

pub(crate) fn decode_call(n_items: u32, payload: &[u8]) -> Result<Call, WireError> {
    let mut r = Reader { buf: payload };
    let func = r.u64()? as usize;
    let mut items = Vec::with_capacity(n_items as usize);
    for _ in 0..n_items {
        let id = r.u64()?;
        let len = r.u64()?;
        if len > r.buf.len() as u64 {
            return bad("item longer than the call");
        }
        let start = payload.len() - r.buf.len();
        r.take(len as usize)?;
        items.push((id, start..start + len as usize));
    }
    if !r.buf.is_empty() {
        return bad("trailing bytes after the call's items");
    }
    if func == 0 {
        return bad("NULL task function");
    }
    Ok(Call { func, items })
}

pub(crate) const OUT_VALUE: u8 = 0;
pub(crate) const OUT_ERROR: u8 = 1;
pub(crate) const OUT_CANCELLED: u8 = 2;

/// Header and fixed prefix of a value `RESULT`; the value's bytes follow.
pub(crate) fn result_value_head(task_id: u64, last: bool, value_len: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(HEADER_LEN + 16 + value_len.min(INLINE_MAX));
    v.extend_from_slice(&header(RESULT, 0, 16 + value_len as u64));
    v.extend_from_slice(&task_id.to_ne_bytes());
    v.extend_from_slice(&[OUT_VALUE, last as u8, 0, 0, 0, 0, 0, 0]);
    v
}

/// A complete error `RESULT` frame.
pub(crate) fn result_error(
    task_id: u64,
    last: bool,
    kind: i32,
    code: i32,
    message: &[u8],
    detail: &[u8],
) -> Vec<u8> {
    let len = 16 + 16 + message.len() + detail.len();
    let mut v = Vec::with_capacity(HEADER_LEN + len);
    v.extend_from_slice(&header(RESULT, 0, len as u64));
    v.extend_from_slice(&task_id.to_ne_bytes());
    v.extend_from_slice(&[OUT_ERROR, last as u8, 0, 0, 0, 0, 0, 0]);
    v.extend_from_slice(&kind.to_ne_bytes());
    v.extend_from_slice(&code.to_ne_bytes());
    v.extend_from_slice(&(message.len() as u32).to_ne_bytes());
    v.extend_from_slice(&(detail.len() as u32).to_ne_bytes());
    v.extend_from_slice(message);
    v.extend_from_slice(detail);
    v
}

/// A complete `RESULT` frame for a task that honoured a cancel request.
pub(crate) fn result_cancelled(task_id: u64, last: bool) -> Vec<u8> {
    let mut v = Vec::with_capacity(HEADER_LEN + 16);
    v.extend_from_slice(&header(RESULT, 0, 16));
    v.extend_from_slice(&task_id.to_ne_bytes());
    v.extend_from_slice(&[OUT_CANCELLED, last as u8, 0, 0, 0, 0, 0, 0]);
    v
}

/// A decoded `RESULT` payload, borrowing from the frame.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Body<'a> {
    Value(&'a [u8]),
    Error {
        kind: i32,
        code: i32,
        message: &'a [u8],
        detail: &'a [u8],
    },
    Cancelled,
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ResultMsg<'a> {
    pub task_id: u64,
    /// The worker exits after this result (max_tasks_per_child).
    pub last: bool,
    pub body: Body<'a>,
}

pub(crate) fn decode_result(payload: &[u8]) -> Result<ResultMsg<'_>, WireError> {
    let mut r = Reader { buf: payload };
    let task_id = r.u64()?;
    let tag = r.take(8)?;
    let last = match tag[1] {
        0 => false,
        1 => true,
        _ => return bad("bad last flag"),
    };
    let body = match tag[0] {
        OUT_VALUE => Body::Value(r.buf),
        OUT_ERROR => {
            let kind = r.i32()?;
            let code = r.i32()?;
            let ml = r.u32()? as usize;
            let dl = r.u32()? as usize;
            let message = r.take(ml)?;
            let detail = r.take(dl)?;
            if !r.buf.is_empty() {
                return bad("trailing bytes after an error");
            }
            Body::Error {
                kind,
                code,
                message,
                detail,
            }
        }
        OUT_CANCELLED => {
            if !r.buf.is_empty() {
                return bad("trailing bytes after a cancellation");
            }
            Body::Cancelled
        }
        _ => return bad("unknown result outcome"),
    };
    Ok(ResultMsg {
        task_id,
        last,
        body,
    })
}

// ---- fork server control messages (SOCK_SEQPACKET, fixed size) -------------

pub(crate) const FS_SPAWN: u32 = 1; // + 2 fds: the worker's call read end, result write end
pub(crate) const FS_KILL: u32 = 2; // a = signal, token = pid
pub(crate) const FS_SPAWNED: u32 = 10; // a = pid
pub(crate) const FS_SPAWN_FAILED: u32 = 11; // a = errno
pub(crate) const FS_EXITED: u32 = 12; // a = pid, b = wait status

pub(crate) const CTL_LEN: usize = 24;

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct Ctl {
    pub op: u32,
    pub a: i32,
    pub token: u64,
    pub b: i64,
}

impl Ctl {
    pub(crate) fn encode(&self) -> [u8; CTL_LEN] {
        let mut v = [0u8; CTL_LEN];
        v[0..4].copy_from_slice(&self.op.to_ne_bytes());
        v[4..8].copy_from_slice(&self.a.to_ne_bytes());
        v[8..16].copy_from_slice(&self.token.to_ne_bytes());
        v[16..24].copy_from_slice(&self.b.to_ne_bytes());
        v
    }

    pub(crate) fn decode(v: &[u8]) -> Result<Ctl, WireError> {
        if v.len() != CTL_LEN {
            return bad("control message of the wrong size");
        }
        Ok(Ctl {
            op: u32::from_ne_bytes(v[0..4].try_into().unwrap()),
            a: i32::from_ne_bytes(v[4..8].try_into().unwrap()),
            token: u64::from_ne_bytes(v[8..16].try_into().unwrap()),
            b: i64::from_ne_bytes(v[16..24].try_into().unwrap()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn join(segs: Vec<Seg>) -> Vec<u8> {
        segs.iter().flat_map(|s| s.as_slice().to_vec()).collect()
    }

    fn item(task_id: u64, arg: Vec<u8>) -> CallItem {
        CallItem {
            task_id,
            arg: Arc::new(arg),
        }
    }

    #[test]
    fn call_round_trip_small_and_large() {
        let big = vec![7u8; INLINE_MAX + 5];
        let items = vec![
            item(3, b"abc".to_vec()),
            item(4, Vec::new()),
            item(5, big.clone()),
            item(6, b"z".to_vec()),
        ];
        let segs = encode_call(0x1234, &items);
        assert!(segs.len() >= 3, "the large item travels as its own segment");
        let frame = join(segs);
        let (h, total) = complete_frame(&frame).unwrap().unwrap();
        assert_eq!(total, frame.len());
        assert_eq!(h.kind, CALL);
        assert_eq!(h.aux, 4);
        let payload = &frame[HEADER_LEN..];
        let call = decode_call(h.aux, payload).unwrap();
        assert_eq!(call.func, 0x1234);
        let got: Vec<(u64, &[u8])> = call
            .items
            .iter()
            .map(|(id, r)| (*id, &payload[r.clone()]))
            .collect();
        assert_eq!(got[0], (3, &b"abc"[..]));
        assert_eq!(got[1], (4, &b""[..]));
        assert_eq!(got[2], (5, &big[..]));
        assert_eq!(got[3], (6, &b"z"[..]));
    }

    #[test]
    fn incomplete_frames_wait_for_more() {
        let frame = join(encode_call(1, &[item(1, vec![1; 100])]));
        for cut in 0..frame.len() {
            assert_eq!(complete_frame(&frame[..cut]).unwrap(), None);
        }
        assert_eq!(frame_len_hint(&frame[..HEADER_LEN]), Some(frame.len()));
        assert_eq!(frame_len_hint(&frame[..3]), None);
    }

    #[test]
    fn malformed_calls_are_refused() {
        let frame = join(encode_call(9, &[item(1, vec![1; 10])]));
        let payload = &frame[HEADER_LEN..];
        assert!(decode_call(2, payload).is_err(), "more items than sent");
        assert!(decode_call(0, payload).is_err(), "trailing bytes");
        assert!(decode_call(1, &payload[..payload.len() - 1]).is_err());
        let null = join(encode_call(0, &[]));
        assert!(decode_call(0, &null[HEADER_LEN..]).is_err());
        let huge = header(RESULT, 0, MAX_PAYLOAD + 1);
        assert!(complete_frame(&huge).is_err());
    }

    #[test]
    fn results_round_trip() {
        let mut v = result_value_head(17, true, 3);
        v.extend_from_slice(b"xyz");
        let (h, total) = complete_frame(&v).unwrap().unwrap();
        assert_eq!((h.kind, total), (RESULT, v.len()));
        let m = decode_result(&v[HEADER_LEN..]).unwrap();
        assert_eq!(
            m,
            ResultMsg {
                task_id: 17,
                last: true,
                body: Body::Value(b"xyz")
            }
        );

        let e = result_error(18, false, -5, 42, b"bad input", b"in worker 1");
        let m = decode_result(&e[HEADER_LEN..]).unwrap();
        assert_eq!(m.task_id, 18);
        assert!(!m.last);
        assert_eq!(
            m.body,
            Body::Error {
                kind: -5,
                code: 42,
                message: b"bad input",
                detail: b"in worker 1"
            }
        );

        let c = result_cancelled(19, false);
        assert_eq!(
            decode_result(&c[HEADER_LEN..]).unwrap().body,
            Body::Cancelled
        );

        let mut broken = e.clone();
        broken[HEADER_LEN + 8] = 9; // unknown outcome
        assert!(decode_result(&broken[HEADER_LEN..]).is_err());
        assert!(decode_result(&e[HEADER_LEN..e.len() - 1]).is_err());
    }

    #[test]
    fn control_messages_round_trip() {
        let c = Ctl {
            op: FS_EXITED,
            a: 4242,
            token: 7,
            b: -1,
        };
        assert_eq!(Ctl::decode(&c.encode()).unwrap(), c);
        assert!(Ctl::decode(&[0u8; 3]).is_err());
    }
}
