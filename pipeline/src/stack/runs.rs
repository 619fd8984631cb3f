//! Runs of blank numbers: the series and consecutive numbers read for sure, the characters they all
//! share, and the numbers between and beyond them that no page read.

use std::collections::{BTreeMap, BTreeSet};

use super::characters;

/// Numbers of one run lie closer than this to each other; a larger gap starts another run.
const RUN_GAP: u64 = 50;
/// Numbers read for sure that must agree on a character before it counts as settled.
const MIN_SETTLING: usize = 3;

/// Numbers of one series (the text before the last group of digits, and that group's width) lying
/// closer than [`RUN_GAP`] to each other.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Run {
    prefix: String,
    width: usize,
    lo: u64,
    hi: u64,
    pub(super) members: usize,
}

impl Run {
    pub(super) fn contains(&self, text: &str) -> bool {
        split_number(text)
            .is_some_and(|(prefix, width, n)| prefix == self.prefix && width == self.width && (self.lo..=self.hi).contains(&n))
    }
}

/// `77 0012345` → ("77 ", 7, 12345); None when the last group is not digits.
pub(super) fn split_number(text: &str) -> Option<(String, usize, u64)> {
    let (head, tail) = text.rsplit_once(' ').unwrap_or(("", text));
    if tail.is_empty() || !tail.bytes().all(|b| b.is_ascii_digit()) || tail.len() > 18 {
        return None;
    }
    let prefix = if head.is_empty() { String::new() } else { format!("{head} ") };
    Some((prefix, tail.len(), tail.parse().ok()?))
}

/// Per run of numbers read for sure (at least [`MIN_SETTLING`] of them), the characters all its numbers
/// share at each position (spaces left out): the series and the run's leading digits.
#[derive(Debug, Clone, Default)]
pub struct Settled(Vec<(Run, Vec<Option<char>>)>);

impl Settled {
    pub fn new(read: &BTreeSet<String>) -> Settled {
        let settled = runs(read)
            .into_iter()
            .filter(|run| run.members >= MIN_SETTLING)
            .map(|run| {
                let members: Vec<Vec<char>> = read.iter().filter(|t| run.contains(t)).map(|t| characters(t)).collect();
                let shared =
                    (0..members[0].len()).map(|i| Some(members[0][i]).filter(|&c| members.iter().all(|m| m.get(i) == Some(&c)))).collect();
                (run, shared)
            })
            .collect();
        Settled(settled)
    }

    /// The settled characters of the run `text` belongs to (lies within [`RUN_GAP`] of); none when it
    /// belongs to no run.
    pub(super) fn of(&self, text: &str) -> &[Option<char>] {
        let Some((prefix, width, n)) = split_number(text) else {
            return &[];
        };
        self.0
            .iter()
            .find(|(run, _)| run.prefix == prefix && run.width == width && (run.lo.saturating_sub(RUN_GAP)..=run.hi + RUN_GAP).contains(&n))
            .map_or(&[], |(_, shared)| shared.as_slice())
    }
}

pub(super) fn runs(read: &BTreeSet<String>) -> Vec<Run> {
    let mut series: BTreeMap<(String, usize), Vec<u64>> = BTreeMap::new();
    for (prefix, width, n) in read.iter().filter_map(|t| split_number(t)) {
        series.entry((prefix, width)).or_default().push(n);
    }
    let mut out: Vec<Run> = Vec::new();
    for ((prefix, width), mut numbers) in series {
        numbers.sort_unstable();
        let first = out.len();
        for n in numbers {
            let in_series = out.len() > first;
            match out.last_mut() {
                Some(r) if in_series && n - r.hi <= RUN_GAP => {
                    r.hi = n;
                    r.members += 1;
                }
                _ => out.push(Run { prefix: prefix.clone(), width, lo: n, hi: n, members: 1 }),
            }
        }
    }
    out
}

/// The numbers of the stack's runs that no page read for sure: runs of numbers read for sure, extended
/// at both ends by up to `spread` numbers, minus the numbers read.
pub fn unread_numbers(read: &BTreeSet<String>, spread: u64) -> Vec<String> {
    let spread = spread.min(RUN_GAP);
    let mut out = Vec::new();
    for run in runs(read) {
        let max = 10u64.saturating_pow(run.width as u32) - 1;
        for n in run.lo.saturating_sub(spread)..=(run.hi + spread).min(max) {
            let text = format!("{}{n:0width$}", run.prefix, width = run.width);
            if !read.contains(&text) {
                out.push(text);
            }
        }
    }
    out
}
