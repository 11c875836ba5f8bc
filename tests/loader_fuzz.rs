//! A property test of the configuration loader, on stable Rust with a fixed case budget (no
//! extra crate: a seeded generator, so a failure names its case and replays exactly).
//!
//! Arbitrary bytes, YAML-ish token soup and mutations of the valid demo files, each as a check
//! file and as the settings file: the loader never panics, never takes over a second on one
//! file, and always answers with either a plan or problems located in a file at line ≥ 1.

mod common;

use std::time::{Duration, Instant};

/// xorshift64*: small, fast, and the same sequence on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ":",
    ": ",
    "- ",
    "\n",
    "\n  ",
    "  ",
    "'",
    "\"",
    "#",
    "&a ",
    "*a",
    "!!str ",
    "!!binary ",
    "<<: ",
    "? ",
    "|\n",
    ">-\n",
    "---\n",
    "...\n",
    "${",
    "${X}",
    "${X:-y}",
    "}",
    "%",
    "@",
    "\t",
    "\\",
    "\r\n",
    "\u{feff}",
    "1e400",
    "99999999999999999999",
    "-1",
    ".inf",
    "0x1f",
    "~",
    "null",
    "true",
    "checks:",
    "name: ",
    "sources:",
    "freshness:",
    "table: t",
    "column: c",
    "error_after: ",
    "1h",
    "99999999w",
    "schedule: ",
    "\"* * * * *\"",
    "timezone: ",
    "depends_on: ",
    "on_failure: ",
    "restart: ",
    "url: ",
    "sqlite:x.db",
    "postgres://u:p#w@h/d",
    "é",
    "\u{0}",
];

fn soup(rng: &mut Rng) -> Vec<u8> {
    let mut out = Vec::new();
    for _ in 0..rng.below(200) {
        out.extend_from_slice(TOKENS[rng.below(TOKENS.len())].as_bytes());
    }
    out
}

fn bytes(rng: &mut Rng) -> Vec<u8> {
    (0..rng.below(2048)).map(|_| rng.next() as u8).collect()
}

fn mutate(rng: &mut Rng, base: &str) -> Vec<u8> {
    let mut b = base.as_bytes().to_vec();
    for _ in 0..1 + rng.below(8) {
        let at = rng.below(b.len() + 1).min(b.len());
        match rng.below(6) {
            0 if !b.is_empty() => {
                let i = at.min(b.len() - 1);
                b[i] = rng.next() as u8;
            }
            1 => {
                let end = (at + rng.below(40)).min(b.len());
                b.drain(at..end);
            }
            2 => {
                let t = TOKENS[rng.below(TOKENS.len())].as_bytes();
                b.splice(at..at, t.iter().copied());
            }
            3 => {
                let end = (at + rng.below(200)).min(b.len());
                let span = b[at..end].to_vec();
                b.splice(at..at, span);
            }
            4 => {
                let deep = rng.below(80);
                let open = if rng.below(2) == 0 { "[" } else { "{a: " };
                b.splice(at..at, open.repeat(deep).into_bytes());
            }
            _ => {
                let line_start = b[..at]
                    .iter()
                    .rposition(|c| *c == b'\n')
                    .map_or(0, |i| i + 1);
                let indent = b" ".repeat(rng.below(6));
                b.splice(line_start..line_start, indent);
            }
        }
    }
    b
}

fn check_one(case: usize, what: &str, settings: &[u8], checks: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("checks")).unwrap();
    std::fs::write(dir.path().join("syncwatch.yaml"), settings).unwrap();
    std::fs::write(dir.path().join("checks/x.yaml"), checks).unwrap();
    let path = dir.path().join("syncwatch.yaml");
    let env = |name: &str| match name {
        "X" => Some("value".to_string()),
        "SYNCWATCH_EXE" => Some("syncwatch".to_string()),
        _ => None,
    };
    let started = Instant::now();
    let result = std::panic::catch_unwind(|| syncwatch::config::load(&path, &env));
    let took = started.elapsed();
    let replay = || {
        format!(
            "case {case} ({what})\nsettings: {:?}\nchecks: {:?}",
            String::from_utf8_lossy(settings),
            String::from_utf8_lossy(checks)
        )
    };
    let Ok(result) = result else {
        panic!("the loader panicked on {}", replay());
    };
    assert!(
        took < Duration::from_secs(1),
        "took {took:?} on {}",
        replay()
    );
    if let Err(errors) = result {
        assert!(
            !errors.0.is_empty(),
            "refused without a problem: {}",
            replay()
        );
        for d in &errors.0 {
            assert!(
                d.line >= 1 && d.col >= 1 && !d.file.is_empty() && !d.message.is_empty(),
                "an unlocated problem {d:?} on {}",
                replay()
            );
        }
    }
}

#[test]
fn the_loader_never_panics_stalls_or_answers_without_a_location() {
    let settings = syncwatch::demo::SETTINGS;
    let checks = syncwatch::demo::CHECKS[0].1;
    // CI runs the fixed seed and budget; SYNCWATCH_FUZZ_SEED / SYNCWATCH_FUZZ_CASES explore more.
    let seed = std::env::var("SYNCWATCH_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_cafe_f00d_0001u64);
    let budget: usize = std::env::var("SYNCWATCH_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000);
    let mut rng = Rng(seed | 1);
    // The unmutated files load: mutations start from a valid plan, not from an early refusal.
    {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("checks")).unwrap();
        std::fs::write(dir.path().join("syncwatch.yaml"), settings).unwrap();
        std::fs::write(dir.path().join("checks/x.yaml"), checks).unwrap();
        let env = |k: &str| (k == "SYNCWATCH_EXE").then(|| "syncwatch".to_string());
        let loaded = syncwatch::config::load(&dir.path().join("syncwatch.yaml"), &env);
        assert!(loaded.is_ok(), "{}", loaded.err().unwrap());
    }
    for case in 0..budget {
        let (what, input) = match case % 4 {
            0 => ("random bytes", bytes(&mut rng)),
            1 => ("token soup", soup(&mut rng)),
            _ => ("mutated demo checks", mutate(&mut rng, checks)),
        };
        check_one(case, what, settings.as_bytes(), &input);
        let settings_input = if case % 2 == 0 {
            mutate(&mut rng, settings)
        } else {
            soup(&mut rng)
        };
        check_one(case, "mutated settings", &settings_input, checks.as_bytes());
    }
}
