//! The reconciliation reports: the latest runs, each with the findings the account may see.

use axum::{
    extract::State,
    response::{IntoResponse, Response},
};
use boxoffice_workflows::store::runs;
use maud::html;

use super::{
    PageAdmin,
    layout::{badge, layout, when},
    page_error,
};
use crate::AdminState;

/// `GET /admin/reports`: the latest reconciliation runs and their findings.
pub(super) async fn reports_page(
    State(state): State<AdminState>,
    PageAdmin(admin): PageAdmin,
) -> Response {
    let runs = match runs::recent_runs(&state.db, admin.scope()).await {
        Ok(r) => r,
        Err(e) => return page_error(e, &admin),
    };
    layout(
        "Reconciliation",
        Some(&admin),
        html! {
            div.page-head { h1 { "Reconciliation" } }
            section.card {
                p.muted { "Each run compares the seat store, orders, tickets and the payment provider's ledger, repairs what is safe and reports the rest." }
                @if runs.is_empty() { p.muted { "No runs yet." } }
                @for r in &runs {
                    details.run open[r.unresolved > 0] {
                        summary {
                            (badge(&r.status)) " " (when(Some(r.started_at))) " · " (r.trigger) " · "
                            (r.checked_seats) " seats checked · " (r.repaired) " repaired · "
                            span class=(if r.unresolved > 0 { "warn" } else { "" }) { (r.unresolved) " unresolved" }
                        }
                        @if r.findings.is_empty() { p.muted { "No findings." } } @else {
                            table.compact {
                                thead { tr { th { "Kind" } th { "Order" } th { "Seat" } th { "Repaired" } th { "Detail" } } }
                                tbody {
                                    @for f in &r.findings {
                                        tr {
                                            td { code { (f["kind"].as_str().unwrap_or("")) } }
                                            td { @if let Some(o) = f["order"].as_str() { a href={"/admin/orders/" (o)} { code { (&o[..8.min(o.len())]) "…" } } } }
                                            td { (f["seat"].as_str().unwrap_or("")) }
                                            td { (if f["repaired"].as_bool() == Some(true) { "yes" } else { "no" }) }
                                            td { (f["detail"].as_str().unwrap_or("")) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
    .into_response()
}
