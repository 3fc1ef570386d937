//! Framing between the pool and its worker processes.
//!
//! Every message is a 16-byte header (kind: u32, aux: u32, payload length:
//! u64, native byte order: both ends are the same program) followed by the
//! payload. Parent → worker, on the call pipe: `CALL` (a function pointer
//! and one or more items, each with its task id and argument bytes) and
//! `STOP`. Worker → parent, through the result ring (`ring`): `READY`
//! (initializer done), `INIT_FAILED` (aux = its code) and one `RESULT` per
//! item, in the order the items were sent.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

pub(crate) const HEADER_LEN: usize = 16;
/// Larger frames are treated as corruption (1 TiB).
pub(crate) const MAX_PAYLOAD: u64 = 1 << 40;

pub(crate) const CALL: u32 = 1;
pub(crate) const STOP: u32 = 2;
/// Spawn pools: aux = a registry id, payload = the task's name (N5).
pub(crate) const NAME: u32 = 3;
/// Spawn pools, the first frame: the worker's configuration (`Setup`).
pub(crate) const SETUP: u32 = 4;
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

/// A piece of an outgoing frame.
pub(crate) enum Seg {
    Bytes(Vec<u8>),
    /// A range of a shared buffer (a whole prebuilt frame, or a large
    /// argument inside one).
    Slice(Arc<Vec<u8>>, Range<usize>),
}

impl Seg {
    pub(crate) fn as_slice(&self) -> &[u8] {
        match self {
            Seg::Bytes(v) => v,
            Seg::Slice(a, r) => &a[r.clone()],
        }
    }
}

/// Builds a `CALL` frame item by item, on the submitting thread: the
/// arguments are copied once, into the frame that the manager later writes
/// as it is (one buffer per call, not one per item).
pub(crate) struct CallBuilder {
    buf: Vec<u8>,
    n: u32,
}

impl CallBuilder {
    /// A frame for `func`; `items` and `arg_bytes` size the buffer.
    pub(crate) fn new(func: usize, items: usize, arg_bytes: usize) -> CallBuilder {
        CallBuilder::reusing(Vec::new(), func, items, arg_bytes)
    }

    /// The same, in `buf` (a spare buffer; its contents are dropped).
    pub(crate) fn reusing(
        mut buf: Vec<u8>,
        func: usize,
        items: usize,
        arg_bytes: usize,
    ) -> CallBuilder {
        buf.clear();
        buf.reserve(HEADER_LEN + 8 + 16 * items + arg_bytes);
        buf.extend_from_slice(&header(CALL, 0, 0));
        buf.extend_from_slice(&(func as u64).to_ne_bytes());
        CallBuilder { buf, n: 0 }
    }

    /// Appends an item; answers where its argument lies in the frame.
    pub(crate) fn push(&mut self, task_id: u64, arg: &[u8]) -> Range<usize> {
        self.buf.extend_from_slice(&task_id.to_ne_bytes());
        self.buf
            .extend_from_slice(&(arg.len() as u64).to_ne_bytes());
        let start = self.buf.len();
        self.buf.extend_from_slice(arg);
        self.n += 1;
        start..self.buf.len()
    }

    /// The finished frame (header filled in).
    pub(crate) fn finish(mut self) -> Vec<u8> {
        let len = (self.buf.len() - HEADER_LEN) as u64;
        self.buf[..HEADER_LEN].copy_from_slice(&header(CALL, self.n, len));
        self.buf
    }
}

/// How many items a frame built by `CallBuilder` holds.
pub(crate) fn call_items(frame: &[u8]) -> usize {
    u32::from_ne_bytes(frame[4..8].try_into().unwrap()) as usize
}

/// Encodes a `CALL` frame for some of the items of a prebuilt `frame` (a
/// call re-sent after its worker died, or one whose cancelled items were
/// dropped): small arguments are copied into the running segment, large
/// ones are written from `frame` itself.
pub(crate) fn encode_call_from(
    func: usize,
    frame: &Arc<Vec<u8>>,
    items: &[(u64, Range<usize>)],
) -> Vec<Seg> {
    let payload_len: usize = 8 + items.iter().map(|(_, r)| 16 + r.len()).sum::<usize>();
    let n = items.len() as u32;
    let mut segs = Vec::new();
    let mut cur = Vec::with_capacity(HEADER_LEN + payload_len.min(INLINE_MAX * 2));
    cur.extend_from_slice(&header(CALL, n, payload_len as u64));
    cur.extend_from_slice(&(func as u64).to_ne_bytes());
    for (id, r) in items {
        cur.extend_from_slice(&id.to_ne_bytes());
        cur.extend_from_slice(&(r.len() as u64).to_ne_bytes());
        if r.len() >= INLINE_MAX {
            segs.push(Seg::Bytes(std::mem::take(&mut cur)));
            segs.push(Seg::Slice(Arc::clone(frame), r.clone()));
        } else {
            cur.extend_from_slice(&frame[r.clone()]);
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
    // Each item takes 16 bytes at least: a count from the header alone
    // must not size the allocation (found by fuzzing: 4G items).
    let mut items = Vec::with_capacity((n_items as usize).min(payload.len() / 16));
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

/// A `NAME` frame: registry id `id` stands for `name` on this pipe.
pub(crate) fn name_frame(id: u32, name: &str) -> Vec<u8> {
    let mut v = header(NAME, id, name.len() as u64).to_vec();
    v.extend_from_slice(name.as_bytes());
    v
}

/// A spawned worker's configuration: what a forked one inherits.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Setup<'a> {
    pub max_tasks: u64,
    /// The initializer's registered name (empty: none).
    pub initializer: &'a [u8],
    pub initializer_arg: &'a [u8],
}

pub(crate) fn setup_frame(s: &Setup) -> Vec<u8> {
    let len = 12 + s.initializer.len() + s.initializer_arg.len();
    let mut v = header(SETUP, 0, len as u64).to_vec();
    v.extend_from_slice(&s.max_tasks.to_ne_bytes());
    v.extend_from_slice(&(s.initializer.len() as u32).to_ne_bytes());
    v.extend_from_slice(s.initializer);
    v.extend_from_slice(s.initializer_arg);
    v
}

pub(crate) fn decode_setup(payload: &[u8]) -> Result<Setup<'_>, WireError> {
    let mut r = Reader { buf: payload };
    let max_tasks = r.u64()?;
    let n = r.u32()? as usize;
    let initializer = r.take(n)?;
    Ok(Setup {
        max_tasks,
        initializer,
        initializer_arg: r.buf,
    })
}

pub(crate) const OUT_VALUE: u8 = 0;
pub(crate) const OUT_ERROR: u8 = 1;
pub(crate) const OUT_CANCELLED: u8 = 2;

/// Bytes of a value `RESULT` before the value itself.
pub(crate) const RESULT_VALUE_HEAD: usize = HEADER_LEN + 16;

/// Header and fixed prefix of a value `RESULT`; the value's bytes follow.
pub(crate) fn result_value_head(
    task_id: u64,
    last: bool,
    value_len: usize,
) -> [u8; RESULT_VALUE_HEAD] {
    let mut v = [0u8; RESULT_VALUE_HEAD];
    v[..HEADER_LEN].copy_from_slice(&header(RESULT, 0, 16 + value_len as u64));
    v[HEADER_LEN..HEADER_LEN + 8].copy_from_slice(&task_id.to_ne_bytes());
    v[HEADER_LEN + 8] = OUT_VALUE;
    v[HEADER_LEN + 9] = last as u8;
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

pub(crate) const FS_SPAWN: u32 = 1; // + 3 fds: the call read end, result write end, ring memfd
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

    /// A prebuilt frame of `items`, and each item's (id, argument range).
    fn build(func: usize, items: &[(u64, Vec<u8>)]) -> (Vec<u8>, Vec<(u64, Range<usize>)>) {
        let bytes = items.iter().map(|(_, a)| a.len()).sum();
        let mut b = CallBuilder::new(func, items.len(), bytes);
        let ranges = items.iter().map(|(id, a)| (*id, b.push(*id, a))).collect();
        (b.finish(), ranges)
    }

    fn check_call(frame: &[u8], func: usize, want: &[(u64, &[u8])]) {
        let (h, total) = complete_frame(frame).unwrap().unwrap();
        assert_eq!(total, frame.len());
        assert_eq!(h.kind, CALL);
        assert_eq!(h.aux as usize, want.len());
        let payload = &frame[HEADER_LEN..];
        let call = decode_call(h.aux, payload).unwrap();
        assert_eq!(call.func, func);
        let got: Vec<(u64, &[u8])> = call
            .items
            .iter()
            .map(|(id, r)| (*id, &payload[r.clone()]))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn call_round_trip_small_and_large() {
        let big = vec![7u8; INLINE_MAX + 5];
        let items = vec![
            (3, b"abc".to_vec()),
            (4, Vec::new()),
            (5, big.clone()),
            (6, b"z".to_vec()),
        ];
        let (frame, ranges) = build(0x1234, &items);
        assert_eq!(call_items(&frame), 4);
        let all: Vec<(u64, &[u8])> = items.iter().map(|(id, a)| (*id, &a[..])).collect();
        check_call(&frame, 0x1234, &all);

        // Re-encoding a subset: the large item travels from the frame itself.
        let frame = Arc::new(frame);
        let segs = encode_call_from(0x1234, &frame, &ranges);
        assert!(segs.len() >= 3, "the large item travels as its own segment");
        check_call(&join(segs), 0x1234, &all);
        let some = [ranges[1].clone(), ranges[3].clone()];
        check_call(
            &join(encode_call_from(0x1234, &frame, &some)),
            0x1234,
            &[(4, &b""[..]), (6, &b"z"[..])],
        );
    }

    #[test]
    fn incomplete_frames_wait_for_more() {
        let (frame, _) = build(1, &[(1, vec![1; 100])]);
        for cut in 0..frame.len() {
            assert_eq!(complete_frame(&frame[..cut]).unwrap(), None);
        }
    }

    #[test]
    fn malformed_calls_are_refused() {
        let (frame, _) = build(9, &[(1, vec![1; 10])]);
        let payload = &frame[HEADER_LEN..];
        assert!(decode_call(2, payload).is_err(), "more items than sent");
        assert!(decode_call(0, payload).is_err(), "trailing bytes");
        assert!(decode_call(1, &payload[..payload.len() - 1]).is_err());
        let (null, _) = build(0, &[]);
        assert!(decode_call(0, &null[HEADER_LEN..]).is_err());
        let huge = header(RESULT, 0, MAX_PAYLOAD + 1);
        assert!(complete_frame(&huge).is_err());
    }

    /// A CALL frame whose header claims far more items than its payload
    /// holds is refused, without allocating for the claimed count (a
    /// fuzzing find: `aux` = 2^32 - 1 made a 96 GiB allocation).
    #[test]
    fn an_item_count_beyond_the_payload_is_refused() {
        let mut payload = 0x1234u64.to_ne_bytes().to_vec();
        payload.extend_from_slice(&7u64.to_ne_bytes());
        payload.extend_from_slice(&0u64.to_ne_bytes());
        assert!(decode_call(u32::MAX, &payload).is_err());
        assert_eq!(decode_call(1, &payload).unwrap().items, [(7, 24..24)]);
    }

    #[test]
    fn results_round_trip() {
        let mut v = result_value_head(17, true, 3).to_vec();
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
    fn setup_and_names_round_trip() {
        let s = Setup {
            max_tasks: 7,
            initializer: b"init",
            initializer_arg: b"xyz",
        };
        let f = setup_frame(&s);
        let (h, total) = complete_frame(&f).unwrap().unwrap();
        assert_eq!((h.kind, total), (SETUP, f.len()));
        assert_eq!(decode_setup(&f[HEADER_LEN..]).unwrap(), s);
        assert!(decode_setup(&f[HEADER_LEN..HEADER_LEN + 13]).is_err());
        let n = name_frame(9, "task");
        let (h, _) = complete_frame(&n).unwrap().unwrap();
        assert_eq!((h.kind, h.aux, &n[HEADER_LEN..]), (NAME, 9, &b"task"[..]));
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
