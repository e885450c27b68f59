//! Presale blocks: the presale allocations of an event as the seat store (gates) and the
//! buyer API (code redemption) read them.

use boxoffice_nats::{
    BlockId, SectionCode, UnitLabel,
    ids::EventId,
    seat::{BlockMeta, BlockUnits},
};
use sqlx::PgPool;

use super::{StoreError, inventory::SectionKind, parse_stored};

/// One presale allocation of an event.
#[derive(Debug, Clone)]
pub struct PresaleBlock {
    /// The block (its allocation's id).
    pub id: BlockId,
    /// Its section's code.
    pub section: SectionCode,
    /// How its section sells.
    pub kind: SectionKind,
    /// Seated: its seats' labels.
    pub labels: Vec<UnitLabel>,
    /// General admission: its units.
    pub quantity: u32,
    /// The argon2 hash of its access code.
    pub access_code_hash: String,
    /// Released to the general sale.
    pub released: bool,
}

impl PresaleBlock {
    /// The block as the seat store records it.
    pub fn meta(&self) -> BlockMeta {
        BlockMeta {
            id: self.id,
            units: match self.kind {
                SectionKind::Seated => BlockUnits::Seats(self.labels.iter().cloned().collect()),
                SectionKind::GeneralAdmission => BlockUnits::Quantity(self.quantity),
            },
            open: self.released,
        }
    }
}

/// Every presale allocation of the event, released or not, oldest first.
pub async fn presale_blocks(
    pool: &PgPool,
    event: EventId,
) -> Result<Vec<PresaleBlock>, StoreError> {
    let rows = sqlx::query!(
        r#"select a.allocation_id, s.code, s.kind, a.labels, coalesce(a.quantity, 0) as "quantity!",
                  a.access_code_hash as "access_code_hash!", a.released_at is not null as "released!"
           from allocations a join sections s using (section_id)
           where a.event_id = $1 and a.kind = 'presale' and a.access_code_hash is not null
           order by a.created_at, a.allocation_id"#,
        event.as_uuid(),
    )
    .fetch_all(pool)
    .await
    .map_err(|e| StoreError::classify(e, "event", event))?;
    rows.into_iter()
        .map(|r| {
            let invalid = |e: boxoffice_nats::IdError| StoreError::Invalid(e.to_string());
            Ok(PresaleBlock {
                id: BlockId::from_uuid(r.allocation_id),
                section: SectionCode::parse(r.code).map_err(invalid)?,
                kind: parse_stored("section kind", &r.kind, SectionKind::parse)?,
                labels: r
                    .labels
                    .into_iter()
                    .map(UnitLabel::parse)
                    .collect::<Result<_, _>>()
                    .map_err(invalid)?,
                quantity: u32::try_from(r.quantity).unwrap_or(0),
                access_code_hash: r.access_code_hash,
                released: r.released,
            })
        })
        .collect()
}
