//! A seeded pseudo-random source for fuzz-style tests: a failure replays from its seed.

/// xorshift64*: small, fast, and the same sequence for the same seed on every machine.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator started from `seed` (zero is replaced, as xorshift would stay at zero).
    pub fn new(seed: u64) -> Rng {
        Rng(if seed == 0 {
            0x9e37_79b9_7f4a_7c15
        } else {
            seed
        })
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n`; `n` must not be zero.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// One of `items`, which must not be empty.
    pub fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())].clone()
    }

    /// Up to `max` random bytes.
    pub fn bytes(&mut self, max: usize) -> Vec<u8> {
        let n = self.below(max + 1);
        (0..n).map(|_| self.next_u64() as u8).collect()
    }

    /// Up to `max` random bytes, percent-encoded except for a few characters a query string
    /// uses, so the result is a valid URI component.
    pub fn uri_text(&mut self, max: usize) -> String {
        self.bytes(max)
            .iter()
            .map(|b| match b {
                b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'=' | b'&' => (*b as char).to_string(),
                b => format!("%{b:02X}"),
            })
            .collect()
    }

    /// Up to `max` random bytes as they may appear in a raw request target: each kept raw or
    /// percent-encoded at random, but never a space, CR, LF or `#` (which would end the
    /// request line or the path).
    pub fn target_bytes(&mut self, max: usize) -> Vec<u8> {
        let mut out = Vec::new();
        for b in self.bytes(max) {
            match b {
                b' ' | b'\r' | b'\n' | b'#' => out.extend_from_slice(b"%20"),
                b if self.below(2) == 0 => out.extend_from_slice(format!("%{b:02X}").as_bytes()),
                b => out.push(b),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::Rng;

    #[test]
    fn the_same_seed_gives_the_same_sequence_and_values_stay_in_range() {
        let (mut a, mut b) = (Rng::new(7), Rng::new(7));
        let first: Vec<u64> = (0..5).map(|_| a.next_u64()).collect();
        assert_eq!(first, (0..5).map(|_| b.next_u64()).collect::<Vec<_>>());
        assert_ne!(
            first,
            (0..5).map(|_| Rng::new(8).next_u64()).collect::<Vec<_>>()
        );
        assert!((0..1000).all(|_| a.below(3) < 3));
        assert!((0..200).all(|_| a.bytes(4).len() <= 4));
        for _ in 0..200 {
            let target = a.target_bytes(16);
            assert!(!target.iter().any(|b| b" \r\n#".contains(b)), "{target:?}");
            assert!(a.uri_text(16).bytes().all(|b| b.is_ascii_graphic()));
        }
        assert_ne!(Rng::new(0).next_u64(), 0);
    }
}
