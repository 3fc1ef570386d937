//! Telling futures apart cheaply (W1) and recording tokens (W11).

use super::Futures;

/// How many ascending runs of addresses `Runs` follows before it gives up.
pub(super) const MAX_RUNS: usize = 16;

/// Proves a sequence of futures distinct without sorting or allocating, by
/// their keys (`Futures::key`, in memory order): futures made one after
/// another have ascending addresses, and slots reused from the pool's FIFO
/// free list come in a few ascending runs. Keys strictly ascending within
/// each run, and runs whose ranges do not overlap, mean no future repeats
/// (W1).
pub(super) struct Runs {
    n: usize,
    lo: [usize; MAX_RUNS],
    hi: [usize; MAX_RUNS],
}

impl Runs {
    pub(super) fn new() -> Runs {
        Runs {
            n: 0,
            lo: [0; MAX_RUNS],
            hi: [0; MAX_RUNS],
        }
    }

    /// Adds the next key; false once it would take more than `MAX_RUNS`
    /// runs (then the caller sorts instead).
    pub(super) fn push(&mut self, key: usize) -> bool {
        if self.n > 0 && key > self.hi[self.n - 1] {
            self.hi[self.n - 1] = key;
            return true;
        }
        if self.n == MAX_RUNS {
            return false;
        }
        self.lo[self.n] = key;
        self.hi[self.n] = key;
        self.n += 1;
        true
    }

    /// No two runs overlap: every key pushed is distinct.
    pub(super) fn disjoint(&self) -> bool {
        (0..self.n).all(|i| (0..i).all(|j| self.hi[i] < self.lo[j] || self.hi[j] < self.lo[i]))
    }
}

/// True when the futures of these keys are known distinct without sorting
/// (see `Runs`).
pub(super) fn known_distinct(keys: impl Iterator<Item = usize>) -> bool {
    let mut runs = Runs::new();
    for key in keys {
        if !runs.push(key) {
            return false;
        }
    }
    runs.disjoint()
}

/// W1: the positions of the distinct futures among the positions `keep`
/// accepts, each future at its first such position, ascending. Sorts by
/// key: for inputs `Runs` cannot prove distinct.
pub(super) fn first_positions<L: Futures + ?Sized>(
    fs: &L,
    keep: impl Fn(usize) -> bool,
) -> Vec<usize> {
    let mut by_key: Vec<(usize, usize)> = (0..fs.count())
        .filter(|&i| keep(i))
        .map(|i| (fs.key(i), i))
        .collect();
    // By key, then position: each group starts with its first position.
    by_key.sort_unstable();
    by_key.dedup_by_key(|&mut (key, _)| key);
    let mut firsts: Vec<usize> = by_key.into_iter().map(|(_, i)| i).collect();
    firsts.sort_unstable();
    firsts
}

/// A set of tokens below a bound, taken out smallest first.
pub(super) struct TokenSet {
    words: Vec<u64>,
    /// Words before this one are empty.
    first: usize,
}

impl TokenSet {
    pub(super) fn new(bound: usize) -> TokenSet {
        TokenSet {
            words: vec![0; bound.div_ceil(64)],
            first: 0,
        }
    }

    pub(super) fn insert(&mut self, token: usize) {
        self.words[token / 64] |= 1 << (token % 64);
    }

    pub(super) fn pop_first(&mut self) -> Option<usize> {
        while let Some(w) = self.words.get_mut(self.first) {
            if *w != 0 {
                let bit = w.trailing_zeros() as usize;
                *w &= *w - 1;
                return Some(self.first * 64 + bit);
            }
            self.first += 1;
        }
        None
    }

    pub(super) fn clear(&mut self) {
        self.first = self.words.len();
    }
}
