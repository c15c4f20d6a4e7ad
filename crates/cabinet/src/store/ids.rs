//! File ids: random-looking like CDF's, in 1..=2^53−1, and never reused.
//!
//! A counter that only grows is pushed through a keyed permutation (a balanced Feistel network on 54 bits,
//! cycle-walked into 0..2^53−1). A permutation never maps two counters to one id, so uniqueness needs no
//! lookup and no tombstones, and the ids of a deleted file can never come back. The counter is what the
//! store persists.

use crate::domain::MAX_ID;

const HALF_BITS: u32 = 27;
const HALF_MASK: u64 = (1 << HALF_BITS) - 1;
const ROUNDS: usize = 6;

/// Maps counters to ids with a permutation keyed per installation.
#[derive(Clone)]
pub struct IdPermutation {
    keys: [u64; ROUNDS],
}

impl IdPermutation {
    /// A permutation keyed by `seed` (derived from the installation's secret key).
    pub fn new(seed: u64) -> Self {
        let mut keys = [0; ROUNDS];
        let mut s = seed;
        for k in &mut keys {
            s = splitmix64(s);
            *k = s;
        }
        Self { keys }
    }

    /// The id of counter value `n`. Distinct `n` below 2^53−1 give distinct ids in 1..=2^53−1.
    pub fn id_for(&self, n: u64) -> i64 {
        let limit = MAX_ID as u64; // ids 1..=MAX_ID are 0..MAX_ID shifted by one
        let mut x = n;
        loop {
            x = self.feistel(x);
            if x < limit {
                return x as i64 + 1;
            }
        }
    }

    /// The counter value whose id is `id`, the inverse of [`IdPermutation::id_for`]; `None` for an id
    /// outside 1..=2^53−1. Cycle-walking backwards: the values the forward walk skipped were all at or
    /// above the limit, so the first one below it is where the walk began.
    pub fn counter_of(&self, id: i64) -> Option<u64> {
        if !(1..=MAX_ID).contains(&id) {
            return None;
        }
        let limit = MAX_ID as u64;
        let mut x = id as u64 - 1;
        loop {
            x = self.feistel_inverse(x);
            if x < limit {
                return Some(x);
            }
        }
    }

    fn feistel(&self, x: u64) -> u64 {
        let (mut l, mut r) = (x >> HALF_BITS, x & HALF_MASK);
        for k in &self.keys {
            let f = splitmix64(r ^ k) & HALF_MASK;
            (l, r) = (r, l ^ f);
        }
        (l << HALF_BITS) | r
    }

    fn feistel_inverse(&self, x: u64) -> u64 {
        let (mut l, mut r) = (x >> HALF_BITS, x & HALF_MASK);
        for k in self.keys.iter().rev() {
            let f = splitmix64(l ^ k) & HALF_MASK;
            (l, r) = (r ^ f, l);
        }
        (l << HALF_BITS) | r
    }
}

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_are_unique_and_in_range() {
        let p = IdPermutation::new(42);
        let ids: HashSet<i64> = (0..200_000).map(|n| p.id_for(n)).collect();
        assert_eq!(ids.len(), 200_000);
        assert!(ids.iter().all(|id| (1..=MAX_ID).contains(id)));
    }

    #[test]
    fn counters_come_back_from_their_ids() {
        let p = IdPermutation::new(42);
        for n in (0..100_000).chain([MAX_ID as u64 - 2, MAX_ID as u64 - 1, 1 << 40]) {
            assert_eq!(p.counter_of(p.id_for(n)), Some(n), "counter {n}");
        }
        assert_eq!(p.counter_of(0), None);
        assert_eq!(p.counter_of(-5), None);
        assert_eq!(p.counter_of(MAX_ID + 1), None);
        // Another installation's key maps the same id to another counter.
        let other = IdPermutation::new(43);
        assert_ne!(other.counter_of(p.id_for(7)), Some(7));
    }

    #[test]
    fn ids_spread_over_the_whole_range() {
        let p = IdPermutation::new(7);
        let high = (0..1000).filter(|n| p.id_for(*n) > MAX_ID / 2).count();
        assert!(
            (400..600).contains(&high),
            "{high} of 1000 ids in the upper half"
        );
    }
}
