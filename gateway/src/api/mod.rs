//! The buyer API under `/api/v1` (brief section 4), its OpenAPI document and a browsable page.

pub mod door_key;
pub mod events;
pub mod extract;
pub mod odds;
pub mod orders;
pub mod presale;
pub mod queue;
pub mod sessions;
pub mod tickets;

use axum::{
    Json, Router,
    routing::{get, post},
};
use boxoffice_nats::{Namespace, queue::PollPolicy, queue::WaitingRoom};
use boxoffice_workflows::order::{OrderClient, StatusBoard};
use utoipa::{
    Modify, OpenApi,
    openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
};

use crate::{
    AppState, availability::Availability, catalog::Catalog, error::ApiError, records::Records,
    tokens::TokenKeys,
};

/// What the buyer API's handlers share.
pub struct BuyerState {
    /// Session and admission tokens.
    pub tokens: TokenKeys,
    /// The waiting rooms.
    pub room: WaitingRoom,
    /// The published catalog.
    pub catalog: Catalog,
    /// Live seat availability.
    pub availability: Availability,
    /// Order records and intent publishing.
    pub records: Records,
    /// Order status snapshots.
    pub board: StatusBoard,
    /// NATS (live order changes).
    pub nats: async_nats::Client,
    /// Names.
    pub ns: Namespace,
    /// How often entries are told to poll.
    pub poll: PollPolicy,
    /// The seats left per event, as the waiting room's odds read them.
    pub seats_left: odds::SeatsLeft,
}

struct SessionAuth;

impl Modify for SessionAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "session",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("A session token from POST /api/v1/sessions"))
                    .build(),
            ),
        );
    }
}

/// The OpenAPI document of the buyer API.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Boxoffice buyer API",
        description = "Sessions, the catalog, the virtual waiting room, orders and the tickets' public key. Every error is `{\"error\": {\"code\", \"message\"}}`, its code one of `ErrorCode` (one code per meaning); 429 and 503 carry `Retry-After`."
    ),
    components(schemas(crate::error::ErrorCode)),
    paths(
        sessions::create,
        door_key::public_key,
        events::list,
        events::get,
        events::seats,
        queue::join,
        queue::poll,
        presale::redeem,
        orders::place,
        orders::get,
        orders::events,
        orders::cancel,
        tickets::qr,
    ),
    modifiers(&SessionAuth),
    tags(
        (name = "buyers", description = "Sessions"),
        (name = "catalog", description = "Published events, availability, seat maps"),
        (name = "waiting room", description = "Fair, paced admission to the sale"),
        (name = "orders", description = "Placing, following and canceling orders"),
        (name = "tickets", description = "What gates verify tickets with"),
    )
)]
pub struct ApiDoc;

/// The buyer API's routes (state still to be given).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/sessions", post(sessions::create))
        .route("/api/v1/tickets/public-key", get(door_key::public_key))
        .route("/api/v1/events", get(events::list))
        .route("/api/v1/events/{event_id}", get(events::get))
        .route("/api/v1/events/{event_id}/seats", get(events::seats))
        .route("/api/v1/events/{event_id}/queue", post(queue::join))
        .route("/api/v1/events/{event_id}/presale", post(presale::redeem))
        .route("/api/v1/events/{event_id}/orders", post(orders::place))
        .route("/api/v1/queue/{queue_ticket}", get(queue::poll))
        .route("/api/v1/orders/{order_id}", get(orders::get))
        .route("/api/v1/orders/{order_id}/events", get(orders::events))
        .route("/api/v1/orders/{order_id}/cancel", post(orders::cancel))
        .route(
            "/api/v1/orders/{order_id}/tickets/{code}/qr.svg",
            get(tickets::qr),
        )
}

/// `/api/v1/openapi.json` and the Swagger UI at `/api/docs` (served from the binary: no CDN).
pub fn docs() -> Router<AppState> {
    let spec = ApiDoc::openapi();
    Router::new()
        .route(
            "/api/v1/openapi.json",
            get(move || {
                let spec = spec.clone();
                async move { Json(spec) }
            }),
        )
        .merge(
            utoipa_swagger_ui::SwaggerUi::new("/api/docs")
                .url("/api/v1/openapi-ui.json", ApiDoc::openapi()),
        )
}

/// The order workflows' client, once Temporal is connected (503 until then: the gateway
/// serves before it is).
pub(crate) fn order_client(state: &AppState) -> Result<OrderClient, ApiError> {
    state
        .temporal
        .get()
        .map(|c| OrderClient::new(c.clone()))
        .ok_or_else(|| ApiError::unavailable("Temporal is not connected yet"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn the_openapi_document_lists_every_error_code() {
        let doc = serde_json::to_value(ApiDoc::openapi()).expect("serializable");
        let listed = &doc["components"]["schemas"]["ErrorCode"]["enum"];
        let listed: Vec<&str> = listed
            .as_array()
            .expect("ErrorCode is an enum in the document")
            .iter()
            .filter_map(|v| v.as_str())
            .collect();
        for code in ErrorCode::ALL {
            assert!(listed.contains(&code.as_str()), "{code} is not listed");
        }
        assert_eq!(listed.len(), ErrorCode::ALL.len());
        let detail = &doc["components"]["schemas"]["ErrorDetail"]["properties"]["code"]["$ref"];
        assert_eq!(detail, "#/components/schemas/ErrorCode");
    }
}
