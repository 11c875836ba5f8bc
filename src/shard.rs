//! Splitting checks between the pods of an Indexed Job: a stable hash of the check name.
//! Pure. FNV-1a, so the split never changes with a Rust release.

/// This process runs shard `index` of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// Parses `I/N` (0 ≤ I < N).
    pub fn parse(s: &str) -> Result<Shard, String> {
        let (i, n) = s.split_once('/').ok_or("write I/N, e.g. 0/4")?;
        let index: u32 = i
            .trim()
            .parse()
            .map_err(|_| format!("\"{i}\" is not a shard index"))?;
        let count: u32 = n
            .trim()
            .parse()
            .map_err(|_| format!("\"{n}\" is not a shard count"))?;
        if count == 0 || index >= count {
            return Err(format!(
                "shard {index}/{count}: the index must be below the count"
            ));
        }
        Ok(Shard { index, count })
    }

    pub fn owns(&self, check: &str) -> bool {
        fnv1a(check) % u64::from(self.count) == u64::from(self.index)
    }
}

fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_cover_every_check_once_and_stay_put() {
        let names: Vec<String> = (0..1000).map(|i| format!("partner_{i}_sync")).collect();
        for n in [1, 2, 3, 7] {
            let shards: Vec<Shard> = (0..n).map(|index| Shard { index, count: n }).collect();
            for name in &names {
                assert_eq!(
                    shards.iter().filter(|s| s.owns(name)).count(),
                    1,
                    "{name} in exactly one of {n} shards"
                );
            }
            let sizes: Vec<usize> = shards
                .iter()
                .map(|s| names.iter().filter(|c| s.owns(c)).count())
                .collect();
            assert!(
                sizes.iter().all(|&k| k > 1000 / n as usize / 2),
                "roughly even: {sizes:?}"
            );
        }
        // Stable: the published FNV-1a value, so no new build or restart moves a check.
        assert_eq!(fnv1a("a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn parses() {
        assert_eq!(Shard::parse("1/3"), Ok(Shard { index: 1, count: 3 }));
        assert!(Shard::parse("3/3").is_err());
        assert!(Shard::parse("x").is_err());
        assert!(Shard::parse("0/0").is_err());
    }
}
