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

/// Largest section the description may produce.
pub const MAX_SEATS: usize = 50_000;

/// One seat of the description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecSeat {
    /// Row label (display and the first part of the seat label).
    pub row: String,
    /// Seat number in its row.
    pub number: u32,
}

impl SpecSeat {
    /// The seat's label in the seat store: `<row>-<number>`.
    pub fn label(&self) -> String {
        format!("{}-{}", self.row, self.number)
    }
}

/// Why a description is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SpecError(pub String);

fn err<T>(m: impl Into<String>) -> Result<T, SpecError> {
    Err(SpecError(m.into()))
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

fn rows(part: &str) -> Result<Vec<String>, SpecError> {
    let mut out = Vec::new();
    for item in part.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        match item.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (a.trim().to_ascii_uppercase(), b.trim().to_ascii_uppercase());
                if let (Ok(x), Ok(y)) = (a.parse::<u32>(), b.parse::<u32>()) {
                    if x == 0 || y < x {
                        return err(format!("row range {item:?} must go up from 1"));
                    }
                    out.extend((x..=y).map(|n| n.to_string()));
                } else if let (Some(x), Some(y)) = (letters_to_n(&a), letters_to_n(&b)) {
                    if y < x {
                        return err(format!("row range {item:?} goes backwards"));
                    }
                    out.extend((x..=y).map(n_to_letters));
                } else {
                    return err(format!(
                        "row range {item:?}: use letters (A-J) or numbers (1-12)"
                    ));
                }
            }
            None => {
                let r = item.to_ascii_uppercase();
                let ok =
                    letters_to_n(&r).is_some() || r.parse::<u32>().is_ok_and(|n| n > 0 && n < 1000);
                if !ok {
                    return err(format!("row {item:?}: use letters (A) or a number (1)"));
                }
                out.push(r);
            }
        }
        if out.len() > 1_000 {
            return err("at most 1000 rows per block");
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
            "seats {part:?}: a range of numbers from 1 to 9999, e.g. \"seats 1-20\""
        )),
    }
}

/// Parses a description into its seats, in order (row by row, block by block).
pub fn parse(description: &str) -> Result<Vec<SpecSeat>, SpecError> {
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
    for block in blocks {
        let lower = block.to_ascii_lowercase();
        let Some(rest) = lower
            .strip_prefix("rows")
            .or_else(|| lower.strip_prefix("row"))
        else {
            return err(format!("{block:?}: start with \"rows\""));
        };
        let Some(at) = rest.rfind("seats").or_else(|| rest.rfind("seat")) else {
            return err(format!("{block:?}: say which seats, e.g. \", seats 1-20\""));
        };
        let (row_part, seat_part) = rest.split_at(at);
        let row_part = row_part.trim().trim_end_matches(',');
        let seat_part = seat_part
            .trim_start_matches("seats")
            .trim_start_matches("seat")
            .trim();
        let (first, last) = seats(seat_part)?;
        for row in rows(row_part)? {
            for number in first..=last {
                if !seen.insert((row.clone(), number)) {
                    return err(format!(
                        "seat {row}-{number} is described twice (blocks overlap)"
                    ));
                }
                out.push(SpecSeat {
                    row: row.clone(),
                    number,
                });
                if out.len() > MAX_SEATS {
                    return err(format!("at most {MAX_SEATS} seats in a section"));
                }
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
        let labels: Vec<_> = s.iter().map(SpecSeat::label).collect();
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
}
