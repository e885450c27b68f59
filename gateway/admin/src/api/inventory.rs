//! Sections and allocations: fixed once the sale opens, except that a reserved or presale
//! allocation can still be released to a running sale.

use axum::{Json, extract::State, http::StatusCode};
use boxoffice_http::{
    error::{ApiError, ErrorCode},
    extract::{ApiJson, ApiPath},
};
use boxoffice_workflows::{
    domain::SaleCommand,
    store::{
        accounts::hash_password,
        events::EventDetail,
        inventory::{
            self as store, AllocationDraft, AllocationKind, Layout, SectionDraft, Withheld,
        },
    },
};
use chrono::Utc;
use serde::Deserialize;
use uuid::Uuid;

use super::{
    input::{in_range, labels, optional_text, text},
    sale, visible_event,
};
use crate::{AdminState, auth::Admin, seatspec};

fn refuse_after_opening(ev: &EventDetail) -> Result<(), ApiError> {
    if ev.sale_started(Utc::now()) {
        return Err(ApiError::conflict(
            ErrorCode::SaleStarted,
            "the sale has opened: sections and allocations can no longer change",
        ));
    }
    Ok(())
}

/// The event as the caller may see it, before its sale opens.
async fn before_opening(
    state: &AdminState,
    admin: &Admin,
    id: Uuid,
) -> Result<EventDetail, ApiError> {
    let ev = visible_event(state, admin, id).await?;
    refuse_after_opening(&ev)?;
    Ok(ev)
}

/// `POST /admin/api/v1/events/{id}/sections` body: `seats` (a description) or `capacity`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AddSection {
    code: String,
    name: String,
    price_cents: i64,
    currency: Option<String>,
    /// Seated: e.g. `rows A-J, seats 1-20`.
    seats: Option<String>,
    /// General admission: units.
    capacity: Option<i64>,
}

impl AddSection {
    /// The section, each field checked; its currency is the event's (`ev`) unless given.
    fn draft(&self, ev: &EventDetail) -> Result<SectionDraft, ApiError> {
        let code = self.code.trim().to_owned();
        if boxoffice_nats::SectionCode::parse(code.as_str()).is_err() {
            return Err(ApiError::unprocessable(
                ErrorCode::InvalidCode,
                "a section code is 1 to 32 letters, digits, - or _",
            ));
        }
        let name = text("name", &self.name, 100)?;
        if !(0..=100_000_000).contains(&self.price_cents) {
            return Err(ApiError::unprocessable(
                ErrorCode::OutOfRange,
                "price_cents must be between 0 and 100000000",
            ));
        }
        Ok(SectionDraft {
            code,
            name,
            price_cents: self.price_cents,
            currency: self.currency(ev)?,
            layout: self.layout()?,
        })
    }

    fn currency(&self, ev: &EventDetail) -> Result<String, ApiError> {
        let currency = self
            .currency
            .as_deref()
            .map(str::trim)
            .map(str::to_ascii_uppercase)
            .or_else(|| ev.sections.first().map(|s| s.currency.clone()))
            .unwrap_or_else(|| "EUR".into());
        if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(ApiError::unprocessable(
                ErrorCode::InvalidCurrency,
                "an ISO 4217 code such as EUR",
            ));
        }
        if ev.sections.iter().any(|s| s.currency != currency) {
            return Err(ApiError::unprocessable(
                ErrorCode::InvalidCurrency,
                "every section of an event is priced in one currency",
            ));
        }
        Ok(currency)
    }

    fn layout(&self) -> Result<Layout, ApiError> {
        match (&self.seats, self.capacity) {
            (Some(desc), None) => {
                Ok(Layout::Seated(seatspec::parse(desc).map_err(|e| {
                    ApiError::unprocessable(ErrorCode::InvalidSeats, e.to_string())
                })?))
            }
            (None, Some(n)) => Ok(Layout::GeneralAdmission(
                in_range("capacity", n, 1, 100_000)? as u32,
            )),
            _ => Err(ApiError::unprocessable(
                ErrorCode::InvalidLayout,
                "give either seats (a description such as \"rows A-J, seats 1-20\") or capacity",
            )),
        }
    }
}

/// `POST /admin/api/v1/events/{id}/sections`.
pub(crate) async fn add_section(
    State(state): State<AdminState>,
    admin: Admin,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<AddSection>,
) -> Result<(StatusCode, Json<EventDetail>), ApiError> {
    let ev = before_opening(&state, &admin, id).await?;
    let section = body.draft(&ev)?;
    store::add_section(&state.db, admin.account.id, id, &section).await?;
    Ok((
        StatusCode::CREATED,
        Json(visible_event(&state, &admin, id).await?),
    ))
}

/// `DELETE /admin/api/v1/events/{id}/sections/{code}`.
pub(crate) async fn delete_section(
    State(state): State<AdminState>,
    admin: Admin,
    ApiPath((id, code)): ApiPath<(Uuid, String)>,
) -> Result<Json<EventDetail>, ApiError> {
    before_opening(&state, &admin, id).await?;
    if !store::delete_section(&state.db, admin.account.id, id, &code).await? {
        return Err(ApiError::not_found(
            ErrorCode::SectionNotFound,
            "no such section",
        ));
    }
    Ok(Json(visible_event(&state, &admin, id).await?))
}

/// `POST /admin/api/v1/events/{id}/allocations` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AddAllocation {
    section: String,
    /// `kill`, `reserved` or `presale`.
    kind: String,
    /// Seated: labels, as a list or one comma-separated string (`B-1, B-2`).
    seats: Option<serde_json::Value>,
    /// General admission: units.
    quantity: Option<i64>,
    /// Presale: the code buyers unlock it with.
    access_code: Option<String>,
    note: Option<String>,
}

impl AddAllocation {
    /// The allocation, each field checked (the store checks it against the section).
    fn draft(&self) -> Result<AllocationDraft, ApiError> {
        let kind = AllocationKind::parse(&self.kind).ok_or_else(|| {
            ApiError::unprocessable(ErrorCode::InvalidKind, "kind is kill, reserved or presale")
        })?;
        let access_code_hash = self.access_code_hash(kind)?;
        let withheld = match (&self.seats, self.quantity) {
            (Some(s), None) => Withheld::Seats(labels(s)?),
            (None, Some(q)) => Withheld::Units(in_range("quantity", q, 1, 100_000)?),
            _ => {
                return Err(ApiError::unprocessable(
                    ErrorCode::AllocationInvalid,
                    "give either seats (seated sections) or quantity (general admission)",
                ));
            }
        };
        Ok(AllocationDraft {
            section: self.section.trim().to_owned(),
            kind,
            withheld,
            access_code_hash,
            note: optional_text("note", self.note.as_deref(), 500)?,
        })
    }

    /// A presale's access code, hashed; no other kind has one.
    fn access_code_hash(&self, kind: AllocationKind) -> Result<Option<String>, ApiError> {
        match (kind, self.access_code.as_deref().map(str::trim)) {
            (AllocationKind::Presale, Some(code)) if (6..=64).contains(&code.len()) => {
                hash_password(code).map(Some).map_err(ApiError::unavailable)
            }
            (AllocationKind::Presale, _) => Err(ApiError::unprocessable(
                ErrorCode::AccessCodeRequired,
                "a presale needs an access code of 6 to 64 characters",
            )),
            (_, Some(_)) => Err(ApiError::unprocessable(
                ErrorCode::AccessCodeUnexpected,
                "only a presale has an access code",
            )),
            _ => Ok(None),
        }
    }
}

/// `POST /admin/api/v1/events/{id}/allocations`.
pub(crate) async fn add_allocation(
    State(state): State<AdminState>,
    admin: Admin,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<AddAllocation>,
) -> Result<(StatusCode, Json<EventDetail>), ApiError> {
    before_opening(&state, &admin, id).await?;
    let draft = body.draft()?;
    store::add_allocation(&state.db, admin.account.id, id, &draft).await?;
    Ok((
        StatusCode::CREATED,
        Json(visible_event(&state, &admin, id).await?),
    ))
}

/// `POST /admin/api/v1/events/{id}/allocations/{aid}/release`: back to general sale, also
/// during the sale (the on-sale workflow then loads the seats).
pub(crate) async fn release_allocation(
    State(state): State<AdminState>,
    admin: Admin,
    ApiPath((id, aid)): ApiPath<(Uuid, Uuid)>,
) -> Result<Json<EventDetail>, ApiError> {
    let ev = visible_event(&state, &admin, id).await?;
    if !store::release_allocation(&state.db, admin.account.id, id, aid).await? {
        return Err(ApiError::not_found(
            ErrorCode::AllocationNotFound,
            "no unreleased reserved or presale allocation with that id",
        ));
    }
    if ev.sale_started(Utc::now()) {
        // The released seats join a sale in progress: the on-sale workflow loads them.
        sale::command(&state, &ev, SaleCommand::Reload).await?;
    }
    Ok(Json(visible_event(&state, &admin, id).await?))
}

/// `DELETE /admin/api/v1/events/{id}/allocations/{aid}`: a mistake, before the sale opens.
pub(crate) async fn delete_allocation(
    State(state): State<AdminState>,
    admin: Admin,
    ApiPath((id, aid)): ApiPath<(Uuid, Uuid)>,
) -> Result<Json<EventDetail>, ApiError> {
    before_opening(&state, &admin, id).await?;
    if !store::delete_allocation(&state.db, admin.account.id, id, aid).await? {
        return Err(ApiError::not_found(
            ErrorCode::AllocationNotFound,
            "no such allocation",
        ));
    }
    Ok(Json(visible_event(&state, &admin, id).await?))
}
