//! Checks of what callers ask the store for (seat lists, quantities, hold times, limits, and
//! an inventory to load) before anything is read or written: a bad request is a typed error
//! that changes nothing.

use std::{collections::BTreeSet, time::Duration};

use super::{
    BlockMeta, BlockUnits, EventInventory, EventMeta, InvalidRequest, SeatError, SeatStoreOptions,
    SectionKind, SectionMeta, SectionUnits, block_unit_label,
};
use crate::ids::{EventId, SeatId, SectionCode};

pub(super) fn validate_seats(
    opts: &SeatStoreOptions,
    seats: &[SeatId],
) -> Result<Vec<SeatId>, SeatError> {
    if seats.is_empty() {
        return Err(InvalidRequest::EmptySeatList.into());
    }
    if seats.len() > opts.max_units_per_order {
        return Err(InvalidRequest::Quantity {
            got: seats.len(),
            max: opts.max_units_per_order,
        }
        .into());
    }
    let mut sorted = BTreeSet::new();
    for s in seats {
        if !sorted.insert(s.clone()) {
            return Err(InvalidRequest::DuplicateSeat(s.clone()).into());
        }
    }
    Ok(sorted.into_iter().collect())
}

pub(super) fn validate_quantity(opts: &SeatStoreOptions, quantity: u32) -> Result<(), SeatError> {
    let max = opts.max_units_per_order;
    if quantity == 0 || quantity as usize > max {
        return Err(InvalidRequest::Quantity {
            got: quantity as usize,
            max,
        }
        .into());
    }
    Ok(())
}

/// The section's entry in the event's inventory, or `UnknownSection`.
pub(super) fn section_of<'m>(
    meta: &'m EventMeta,
    event: EventId,
    section: &SectionCode,
) -> Result<&'m SectionMeta, SeatError> {
    meta.sections
        .get(section)
        .ok_or_else(|| SeatError::UnknownSection {
            event,
            section: section.clone(),
        })
}

pub(super) fn validate_hold(opts: &SeatStoreOptions, hold_for: Duration) -> Result<(), SeatError> {
    if hold_for < opts.min_hold || hold_for > opts.max_hold {
        return Err(InvalidRequest::HoldTime {
            got_ms: hold_for.as_millis(),
            min_ms: opts.min_hold.as_millis(),
            max_ms: opts.max_hold.as_millis(),
        }
        .into());
    }
    Ok(())
}

/// Largest general-admission capacity of one section.
pub const MAX_SECTION_UNITS: u32 = 100_000;

/// Largest per-buyer limit of an event.
pub const MAX_PER_BUYER: u32 = 50;

pub(super) fn validate_limit(max_per_buyer: u32) -> Result<(), SeatError> {
    if !(1..=MAX_PER_BUYER).contains(&max_per_buyer) {
        return Err(InvalidRequest::Inventory(format!(
            "max_per_buyer {max_per_buyer} is out of range 1..={MAX_PER_BUYER}"
        ))
        .into());
    }
    Ok(())
}

pub(super) fn validate_inventory(inv: &EventInventory) -> Result<EventMeta, SeatError> {
    let bad = |m: String| SeatError::from(InvalidRequest::Inventory(m));
    validate_limit(inv.max_per_buyer)?;
    if inv.sections.is_empty() {
        return Err(bad("no sections".into()));
    }
    let mut sections = std::collections::BTreeMap::new();
    for s in &inv.sections {
        let meta = match &s.units {
            SectionUnits::Seated(labels) => {
                let unique: BTreeSet<_> = labels.iter().collect();
                if labels.is_empty() || unique.len() != labels.len() {
                    return Err(bad(format!(
                        "section {} has no seats or repeats one",
                        s.code
                    )));
                }
                SectionMeta {
                    kind: SectionKind::Seated,
                    units: labels.len() as u32,
                    blocks: Vec::new(),
                }
            }
            SectionUnits::GeneralAdmission(n) => {
                // A standing section may be all presale blocks: no `u` unit at all.
                let blocked = inv.blocks.contains_key(&s.code);
                if *n > MAX_SECTION_UNITS || (*n == 0 && !blocked) {
                    return Err(bad(format!(
                        "section {} capacity {n} is out of range",
                        s.code
                    )));
                }
                SectionMeta {
                    kind: SectionKind::GeneralAdmission,
                    units: *n,
                    blocks: Vec::new(),
                }
            }
        };
        if sections.insert(s.code.clone(), meta).is_some() {
            return Err(bad(format!("section {} is listed twice", s.code)));
        }
    }
    for (code, blocks) in &inv.blocks {
        let listed = inv.sections.iter().find(|s| &s.code == code);
        let (Some(listed), Some(meta)) = (listed, sections.get_mut(code)) else {
            return Err(bad(format!("presale blocks of unknown section {code}")));
        };
        validate_blocks(code, &listed.units, blocks).map_err(bad)?;
        meta.blocks = blocks.clone();
        if meta.keys() > MAX_SECTION_UNITS {
            return Err(bad(format!("section {code} has too many units")));
        }
    }
    Ok(EventMeta {
        max_per_buyer: inv.max_per_buyer,
        sections,
    })
}

/// A section's presale blocks fit it: seated blocks name distinct seats of the section,
/// standing blocks have units and labels of their own; no block is listed twice.
fn validate_blocks(
    code: &SectionCode,
    units: &SectionUnits,
    blocks: &[BlockMeta],
) -> Result<(), String> {
    let mut ids = BTreeSet::new();
    let mut prefixes = BTreeSet::new();
    let mut taken = BTreeSet::new();
    for b in blocks {
        if !ids.insert(b.id) {
            return Err(format!("block {} is listed twice in section {code}", b.id));
        }
        match (&b.units, units) {
            (BlockUnits::Seats(seats), SectionUnits::Seated(labels)) => {
                if seats.is_empty() || seats.iter().any(|s| !labels.contains(s)) {
                    return Err(format!(
                        "block {} names no seats or seats not listed in section {code}",
                        b.id
                    ));
                }
                if seats.iter().any(|s| !taken.insert(s.clone())) {
                    return Err(format!("block {} shares a seat of section {code}", b.id));
                }
            }
            (BlockUnits::Quantity(n), SectionUnits::GeneralAdmission(_)) => {
                let label = block_unit_label(b.id, 1);
                let prefix = label.as_str().split_once('-').map(|p| p.0.to_owned());
                if *n == 0 || !prefixes.insert(prefix) {
                    return Err(format!(
                        "block {} has no units or shares its labels in section {code}",
                        b.id
                    ));
                }
            }
            _ => {
                return Err(format!(
                    "block {} does not match the kind of section {code}",
                    b.id
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::{
        BlockId,
        seat::{SectionInventory, SectionUnits},
    };

    fn inventory(blocks: Vec<(&str, BlockUnits)>) -> EventInventory {
        let mut map = std::collections::BTreeMap::<SectionCode, Vec<BlockMeta>>::new();
        for (code, units) in blocks {
            map.entry(code.parse().unwrap())
                .or_default()
                .push(BlockMeta {
                    id: BlockId::new(),
                    units,
                    open: false,
                });
        }
        EventInventory {
            event: EventId::new(),
            max_per_buyer: 4,
            sections: vec![
                SectionInventory {
                    code: "A".parse().unwrap(),
                    units: SectionUnits::Seated(vec!["1".parse().unwrap(), "2".parse().unwrap()]),
                },
                SectionInventory {
                    code: "F".parse().unwrap(),
                    units: SectionUnits::GeneralAdmission(0),
                },
            ],
            blocks: map,
        }
    }

    fn seats(labels: &[&str]) -> BlockUnits {
        BlockUnits::Seats(labels.iter().map(|l| l.parse().unwrap()).collect())
    }

    #[test]
    fn blocks_must_fit_their_sections() {
        let ok = inventory(vec![("A", seats(&["1"])), ("F", BlockUnits::Quantity(3))]);
        let meta = validate_inventory(&ok).unwrap();
        assert_eq!(meta.sections[&"F".parse().unwrap()].keys(), 3);
        for bad in [
            inventory(vec![("A", seats(&["3"]))]),
            inventory(vec![("A", seats(&["1"])), ("A", seats(&["1"]))]),
            inventory(vec![("A", BlockUnits::Quantity(2))]),
            inventory(vec![("F", seats(&["1"]))]),
            inventory(vec![("F", BlockUnits::Quantity(0))]),
            inventory(vec![("X", BlockUnits::Quantity(2))]),
            // A standing section with no unit at all and no block.
            inventory(vec![]),
        ] {
            assert!(validate_inventory(&bad).is_err(), "{bad:?}");
        }
    }
}
