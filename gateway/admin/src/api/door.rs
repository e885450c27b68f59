//! Door staff accounts: an organizer (or operator) creates the accounts that check its
//! tickets in at the door (the scanner and nothing else; `Role::Door`).

use axum::{Json, extract::State, http::StatusCode};
use boxoffice_http::{error::ApiError, extract::ApiJson};
use boxoffice_workflows::store::accounts;
use serde::Deserialize;

use super::input::text;
use crate::{AdminState, auth::Admin};

/// `POST /admin/api/v1/door-accounts` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewDoorAccount {
    email: String,
    display_name: String,
    password: String,
}

/// `POST /admin/api/v1/door-accounts`: a door staff account working for the caller. 201 with
/// its id; 422 for a short password or a malformed email, or an email already taken.
pub(crate) async fn create(
    State(state): State<AdminState>,
    admin: Admin,
    ApiJson(body): ApiJson<NewDoorAccount>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let email = text("email", &body.email, 320)?;
    let name = text("display_name", &body.display_name, 100)?;
    if body.password.len() > 1_024 {
        return Err(accounts_invalid("the password is too long"));
    }
    let id = accounts::create_door_account(
        &state.db,
        &email,
        &name,
        &body.password,
        admin.account.id,
        false,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({
            "id": id,
            "email": email.to_lowercase(),
            "display_name": name,
            "role": accounts::Role::Door,
            "works_for": admin.account.id,
        })),
    ))
}

fn accounts_invalid(message: &str) -> ApiError {
    ApiError::unprocessable(boxoffice_http::error::ErrorCode::InvalidField, message)
}
