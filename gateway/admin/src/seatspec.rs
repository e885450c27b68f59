//! Seated sections from a short description, as an organizer types it:
//!
//! ```text
//! rows A-J, seats 1-20
//! rows A-C, seats 1-10; rows D-F, seats 1-14
//! rows 1-5, seats 101-124
//! ```
//!
//! Blocks are separated by `;` (or new lines). Rows are a range or a comma list of letters
//! (`A-Z`, `AA-AZ` ...) or numbers; seats are a number range. A seat described twice is an
//! error that names it, so a typo never silently merges two blocks.

use std::collections::BTreeSet;

pub use boxoffice_workflows::store::inventory::SeatPlace;

/// Largest section the description may produce.
pub const MAX_SEATS: usize = 50_000;
/// Most rows one block may name.
pub const MAX_ROWS_PER_BLOCK: usize = 1_000;
/// Most blocks in one description.
pub const MAX_BLOCKS: usize = 200;
/// Longest description, bytes (a venue of 200 blocks fits in a few kilobytes).
pub const MAX_BYTES: usize = 8 * 1024;
/// Highest row number (the same bound for a single row and for a range).
const MAX_ROW_NUMBER: u32 = 999;

/// Why a description is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SpecError(pub String);

fn err<T>(m: impl Into<String>) -> Result<T, SpecError> {
    Err(SpecError(m.into()))
}

/// A piece of the input for an error message, cut short: the message never echoes a huge
/// input back.
fn quoted(s: &str) -> String {
    const MAX: usize = 40;
    match s.char_indices().nth(MAX) {
        Some((at, _)) => format!("{:?}", format!("{}…", &s[..at])),
        None => format!("{s:?}"),
    }
}

/// Letters as a bijective base-26 number (A=1, Z=26, AA=27).
fn letters_to_n(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 3 || !s.bytes().all(|b| b.is_ascii_uppercase()) {
        return None;
    }
    Some(s.bytes().fold(0, |n, b| n * 26 + u32::from(b - b'A' + 1)))
}

fn n_to_letters(mut n: u32) -> String {
    let mut out = Vec::new();
    while n > 0 {
        let r = (n - 1) % 26;
        out.push(b'A' + r as u8);
        n = (n - 1) / 26;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// The rows of a block, at most `budget` of them: every range is sized before it is
/// expanded, so a range of four billion rows is refused as quickly as one of two.
fn rows(part: &str, budget: usize, too_many: &str) -> Result<Vec<String>, SpecError> {
    let mut out = Vec::new();
    let take = |out: &Vec<String>, n: u32| {
        if out.len().saturating_add(n as usize) > budget {
            return err(too_many);
        }
        Ok(())
    };
    for item in part.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        match item.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (a.trim().to_ascii_uppercase(), b.trim().to_ascii_uppercase());
                if let (Ok(x), Ok(y)) = (a.parse::<u32>(), b.parse::<u32>()) {
                    if x == 0 || y < x {
                        return err(format!("row range {} must go up from 1", quoted(item)));
                    }
                    if y > MAX_ROW_NUMBER {
                        return err(format!(
                            "row range {}: row numbers go from 1 to {MAX_ROW_NUMBER}",
                            quoted(item)
                        ));
                    }
                    take(&out, y - x + 1)?;
                    out.extend((x..=y).map(|n| n.to_string()));
                } else if let (Some(x), Some(y)) = (letters_to_n(&a), letters_to_n(&b)) {
                    if y < x {
                        return err(format!("row range {} goes backwards", quoted(item)));
                    }
                    take(&out, y - x + 1)?;
                    out.extend((x..=y).map(n_to_letters));
                } else {
                    return err(format!(
                        "row range {}: use letters (A-J) or numbers (1-12)",
                        quoted(item)
                    ));
                }
            }
            None => {
                let r = item.to_ascii_uppercase();
                let ok = letters_to_n(&r).is_some()
                    || r.parse::<u32>()
                        .is_ok_and(|n| (1..=MAX_ROW_NUMBER).contains(&n));
                if !ok {
                    return err(format!(
                        "row {}: use letters (A) or a number (1)",
                        quoted(item)
                    ));
                }
                take(&out, 1)?;
                out.push(r);
            }
        }
    }
    if out.is_empty() {
        return err("a block needs rows, e.g. \"rows A-J\"");
    }
    Ok(out)
}

fn seats(part: &str) -> Result<(u32, u32), SpecError> {
    let parse = |s: &str| {
        s.trim()
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=9_999).contains(n))
    };
    let range = match part.split_once('-') {
        Some((a, b)) => parse(a).zip(parse(b)),
        None => parse(part).map(|n| (1, n)),
    };
    match range {
        Some((a, b)) if a <= b => Ok((a, b)),
        _ => err(format!(
            "seats {}: a range of numbers from 1 to 9999, e.g. \"seats 1-20\"",
            quoted(part)
        )),
    }
}

/// Parses a description into its seats, in order (row by row, block by block).
///
/// Bounded before any work that grows with the numbers in it: the text in bytes
/// ([`MAX_BYTES`]), the blocks ([`MAX_BLOCKS`]), each block's rows ([`MAX_ROWS_PER_BLOCK`],
/// checked per range before the range is expanded) and the seats ([`MAX_SEATS`], checked per
/// block as rows × seats before a seat is made). Hostile input is refused in microseconds.
pub fn parse(description: &str) -> Result<Vec<SeatPlace>, SpecError> {
    if description.len() > MAX_BYTES {
        return err(format!(
            "a description is at most {MAX_BYTES} bytes; split the venue into sections"
        ));
    }
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    let blocks: Vec<&str> = description
        .split([';', '\n'])
        .map(str::trim)
        .filter(|b| !b.is_empty())
        .collect();
    if blocks.is_empty() {
        return err("describe the seats, e.g. \"rows A-J, seats 1-20\"");
    }
    if blocks.len() > MAX_BLOCKS {
        return err(format!("at most {MAX_BLOCKS} blocks in a description"));
    }
    let too_many_seats = format!("at most {MAX_SEATS} seats in a section");
    let too_many_rows = format!("at most {MAX_ROWS_PER_BLOCK} rows per block");
    for block in blocks {
        let lower = block.to_ascii_lowercase();
        let Some(rest) = lower
            .strip_prefix("rows")
            .or_else(|| lower.strip_prefix("row"))
        else {
            return err(format!("{}: start with \"rows\"", quoted(block)));
        };
        let Some(at) = rest.rfind("seats").or_else(|| rest.rfind("seat")) else {
            return err(format!(
                "{}: say which seats, e.g. \", seats 1-20\"",
                quoted(block)
            ));
        };
        let (row_part, seat_part) = rest.split_at(at);
        let row_part = row_part.trim().trim_end_matches(',');
        let seat_part = seat_part
            .trim_start_matches("seats")
            .trim_start_matches("seat")
            .trim();
        let (first, last) = seats(seat_part)?;
        // Rows this block may still add: its own limit, and the seats left in the section.
        let per_row = (last - first + 1) as usize;
        let left = MAX_SEATS.saturating_sub(out.len()) / per_row;
        let (budget, too_many) = if left < MAX_ROWS_PER_BLOCK {
            (left, too_many_seats.as_str())
        } else {
            (MAX_ROWS_PER_BLOCK, too_many_rows.as_str())
        };
        for row in rows(row_part, budget, too_many)? {
            for number in first..=last {
                if !seen.insert((row.clone(), number)) {
                    return err(format!(
                        "seat {row}-{number} is described twice (blocks overlap)"
                    ));
                }
                out.push(SeatPlace {
                    row: row.clone(),
                    number,
                });
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_block_makes_rows_times_seats_in_order() {
        let s = parse("rows A-C, seats 1-4").unwrap();
        assert_eq!(s.len(), 12);
        assert_eq!(s[0].label(), "A-1");
        assert_eq!(s[4].label(), "B-1");
        assert_eq!(s[11].label(), "C-4");
    }

    #[test]
    fn blocks_lists_numbers_and_double_letters() {
        let s = parse("rows A, C, seats 5-6; rows 1-2, seats 101-101\nrows Y-AB, seats 1").unwrap();
        let labels: Vec<_> = s.iter().map(SeatPlace::label).collect();
        assert_eq!(
            labels,
            [
                "A-5", "A-6", "C-5", "C-6", "1-101", "2-101", "Y-1", "Z-1", "AA-1", "AB-1"
            ]
        );
    }

    #[test]
    fn overlapping_blocks_are_refused_naming_the_seat() {
        let e = parse("rows A-C, seats 1-10; rows C-D, seats 10-12").unwrap_err();
        assert!(e.0.contains("C-10"), "{e}");
    }

    #[test]
    fn nonsense_is_refused() {
        for bad in [
            "",
            "A-J 1-20",
            "rows A-J",
            "rows J-A, seats 1-2",
            "rows A-J, seats 0-3",
            "rows A-J, seats 5-2",
            "rows A-J, seats -3",
            "rows !, seats 1-2",
            "rows A-ZZZZ, seats 1-2",
            "rows 1-1000, seats 1-9999",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    /// Refused, with an error naming the bound, in well under a second (the old parser
    /// expanded a range before sizing it: the first case took the gateway down).
    #[track_caller]
    fn refused_quickly(input: &str, says: &str) {
        let started = std::time::Instant::now();
        let e = parse(input).unwrap_err();
        let took = started.elapsed();
        // Not a speed test: a refusal that expanded the ranges first would take minutes (or run
        // out of memory), and this bound only tells the two apart, even on a loaded machine.
        assert!(
            took < std::time::Duration::from_secs(5),
            "took {took:?} to refuse"
        );
        assert!(e.0.contains(says), "{e}");
        assert!(e.0.len() < 200, "the message does not echo the input: {e}");
    }

    #[test]
    fn huge_ranges_are_refused_before_they_are_expanded() {
        refused_quickly("rows 1-4294967295, seats 1", "row numbers go from 1 to 999");
        refused_quickly(
            "rows 1-999999999, seats 1-9999",
            "row numbers go from 1 to 999",
        );
        refused_quickly("rows A-ZZZ, seats 1", "at most 1000 rows per block");
        refused_quickly("rows 1-999, seats 1-9999", "at most 50000 seats");
        refused_quickly(
            "rows A-Z, seats 1-4294967295",
            "a range of numbers from 1 to 9999",
        );
        refused_quickly(
            "rows 1-999, 1-999, 1-999, 1-999, seats 1",
            "at most 1000 rows per block",
        );
    }

    #[test]
    fn many_blocks_are_refused() {
        let many = "rows A, seats 1; ".repeat(MAX_BLOCKS + 1);
        assert!(
            many.len() <= MAX_BYTES,
            "the block limit is what refuses it"
        );
        refused_quickly(&many, "at most 200 blocks");
        // Blocks that are each fine add up to too many seats.
        let big: Vec<String> = (1..=50)
            .map(|r| format!("rows {r}, seats 1-9999"))
            .collect();
        refused_quickly(&big.join(";"), "at most 50000 seats");
    }

    #[test]
    fn huge_text_is_refused_by_its_size() {
        refused_quickly(&"A".repeat(10 * 1024 * 1024), "at most 8192 bytes");
        refused_quickly(
            &format!("rows A, seats 1;{}", " ".repeat(MAX_BYTES)),
            "at most 8192 bytes",
        );
        let long_row = format!("rows {}, seats 1", "Q".repeat(4_000));
        refused_quickly(&long_row, "use letters (A) or a number (1)");
    }

    #[test]
    fn the_largest_section_allowed_is_exactly_the_bound() {
        let s = parse("rows 1-500, seats 1-100").unwrap();
        assert_eq!(s.len(), MAX_SEATS);
        assert!(parse("rows 1-500, seats 1-100; rows 501, seats 1").is_err());
        assert_eq!(parse("rows 1-999, seats 1-50").unwrap().len(), 49_950);
    }
}
