//! Admin sign-in: argon2 passwords, server-side sessions in a cookie, CSRF, login limits.

use std::{net::IpAddr, num::NonZeroU32};

use axum::{
    Json,
    extract::{FromRequestParts, State},
    http::{HeaderMap, HeaderValue, Method, header, request::Parts},
    response::{IntoResponse, Response},
};
use boxoffice_workflows::store::{
    accounts::{self, Account, Role},
    sessions::{self, NewSession},
};
use cookie::{Cookie, SameSite};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use boxoffice_http::client::{ClientIp, limit_key, wait_s};

use boxoffice_http::{
    error::{ApiError, ErrorCode},
    extract::ApiJson,
};

use crate::AdminState;

/// The session cookie's name.
pub const COOKIE: &str = "bo_admin";
/// The header a state-changing request carries its CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Sign-in attempts allowed, each a token bucket refilled per minute: per (account, client
/// address) pair, and per client address.
///
/// There is deliberately no bucket per account alone: anyone who knows an operator's email
/// could empty it with wrong passwords and lock the operator out in the middle of a sale.
/// Counted per pair, failures from an attacker's address stop that address only, and the
/// operator still signs in from any address that has not failed. The per-address bucket stops
/// one address guessing across many accounts. A botnet spreading guesses over many addresses
/// is slowed only by argon2 and the password's strength (README "Abuse limits").
pub struct LoginLimiter {
    by_pair: DefaultKeyedRateLimiter<(String, IpAddr)>,
    by_address: DefaultKeyedRateLimiter<IpAddr>,
}

impl LoginLimiter {
    /// `per_minute` attempts per account and address; six times that per address.
    pub fn new(per_minute: u32) -> Self {
        let n = NonZeroU32::new(per_minute.max(1)).unwrap_or(NonZeroU32::MIN);
        let m = NonZeroU32::new(per_minute.max(1).saturating_mul(6)).unwrap_or(NonZeroU32::MIN);
        Self {
            by_pair: RateLimiter::keyed(Quota::per_minute(n)),
            by_address: RateLimiter::keyed(Quota::per_minute(m)),
        }
    }

    /// Takes one attempt for this account from this address, or says how long to wait.
    pub fn check(&self, email: &str, from: IpAddr) -> Result<(), u32> {
        let from = limit_key(from);
        self.by_address.check_key(&from).map_err(|e| wait_s(&e))?;
        self.by_pair
            .check_key(&(email.trim().to_lowercase(), from))
            .map_err(|e| wait_s(&e))?;
        if self.by_pair.len() > 100_000 {
            self.by_pair.retain_recent();
            self.by_address.retain_recent();
        }
        Ok(())
    }
}

/// A signed-in account.
#[derive(Debug, Clone)]
pub struct Admin {
    /// Who.
    pub account: Account,
    /// The session's CSRF token (pages embed it; requests echo it).
    pub csrf: String,
    /// The session's key (SHA-256 of its secret), to check later that it still exists.
    pub session: Vec<u8>,
}

impl Admin {
    /// Whether this account may see everyone's events.
    pub fn is_operator(&self) -> bool {
        self.account.role == Role::Operator
    }

    /// The organizer a query is limited to (`None`: an operator sees all).
    pub fn scope(&self) -> Option<Uuid> {
        (!self.is_operator()).then_some(self.account.id)
    }

    /// Whether this is a door staff account (the check-in scanner only).
    pub fn is_door(&self) -> bool {
        self.account.role == Role::Door
    }

    /// Whose events this account checks tickets in for: its own, or (door staff) those of the
    /// account it works for; the store widens either to every event for an operator.
    pub fn reach(&self) -> Uuid {
        self.account.works_for.unwrap_or(self.account.id)
    }
}

/// Any signed-in account, door staff included: the extractor of the check-in scanner's API
/// and of signing out. Every other admin route takes [`Admin`], which refuses door staff.
#[derive(Debug, Clone)]
pub struct Staff(pub Admin);

/// The answer to door staff anywhere but the scanner.
pub fn door_refused() -> ApiError {
    ApiError::forbidden(
        ErrorCode::RoleForbidden,
        "door staff accounts use the check-in scanner (/admin/checkin) and nothing else",
    )
}

fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

fn random_hex() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

fn session_cookie(state: &AdminState, value: &str, max_age_s: i64) -> HeaderValue {
    let cookie = Cookie::build((COOKIE, value.to_owned()))
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(state.own.config.cookie_secure)
        .path("/admin")
        .max_age(cookie::time::Duration::seconds(max_age_s))
        .build();
    HeaderValue::from_str(&cookie.to_string()).unwrap_or(HeaderValue::from_static(""))
}

fn cookie_value(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == COOKIE)
        .map(|c| c.value().to_owned())
}

/// The browser, as its `User-Agent` says (kept with the session).
pub(crate) fn user_agent(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
}

/// A state-changing request from another origin is refused whatever it carries (defence in
/// depth beside `SameSite=Strict` and the CSRF token). A request without `Origin` passes.
pub(crate) fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true; // non-browser clients send none; the CSRF token still applies
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    origin
        .split_once("://")
        .is_some_and(|(_, rest)| rest == host)
}

/// Creates a session for `account`; returns its cookie header and CSRF token.
pub async fn open_session(
    state: &AdminState,
    account: &Account,
    user_agent: Option<&str>,
) -> Result<(HeaderValue, String), ApiError> {
    let token = random_hex();
    let csrf = random_hex();
    let ttl = state.own.config.session_ttl_s;
    let session = NewSession {
        key: &token_hash(&token),
        account: account.id,
        csrf: &csrf,
        ttl_s: ttl,
        user_agent,
    };
    sessions::open(&state.db, &session).await?;
    Ok((session_cookie(state, &token, ttl), csrf))
}

/// The session behind the request's cookie, if any and unexpired.
pub async fn current(parts: &Parts, state: &AdminState) -> Result<Option<Admin>, ApiError> {
    let Some(token) = cookie_value(&parts.headers) else {
        return Ok(None);
    };
    let session = token_hash(&token);
    Ok(sessions::find(&state.db, &session)
        .await?
        .map(|(account, csrf)| Admin {
            account,
            csrf,
            session,
        }))
}

fn safe_method(m: &Method) -> bool {
    matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The admin API's extractor: a signed-in organizer or operator (door staff get 403); for a
/// state-changing method, also the session's CSRF token in `X-CSRF-Token` and no foreign
/// `Origin`.
impl FromRequestParts<AdminState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AdminState) -> Result<Self, ApiError> {
        let Staff(admin) = Staff::from_request_parts(parts, state).await?;
        if admin.is_door() {
            return Err(door_refused());
        }
        Ok(admin)
    }
}

/// As [`Admin`], door staff included.
impl FromRequestParts<AdminState> for Staff {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AdminState) -> Result<Self, ApiError> {
        let admin = current(parts, state).await?.ok_or_else(|| {
            ApiError::unauthorized(
                ErrorCode::AdminLoginRequired,
                "sign in at /admin/login first",
            )
        })?;
        if !safe_method(&parts.method) {
            if !same_origin(&parts.headers) {
                return Err(ApiError::forbidden(
                    ErrorCode::CrossOrigin,
                    "a request from another origin is refused",
                ));
            }
            let sent = parts
                .headers
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            let ok: bool =
                subtle_eq(sent.as_bytes(), admin.csrf.as_bytes()) && !admin.csrf.is_empty();
            if !ok {
                return Err(ApiError::forbidden(
                    ErrorCode::CsrfInvalid,
                    "the X-CSRF-Token header is missing or does not match the session",
                ));
            }
        }
        Ok(Self(admin))
    }
}

/// Constant-time equality (no early exit on the first differing byte).
fn subtle_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `POST /admin/api/v1/session` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Login {
    /// The account's email.
    pub email: String,
    /// Its password.
    pub password: String,
}

/// Checks a login: the rate limit first, then the password (the same argon2 work whether or
/// not the account exists).
pub async fn check_login(
    state: &AdminState,
    login: &Login,
    from: IpAddr,
) -> Result<Account, ApiError> {
    if login.email.len() > 320 || login.password.len() > 1_024 {
        return Err(ApiError::unprocessable(
            ErrorCode::InvalidLogin,
            "email or password too long",
        ));
    }
    state.own.logins.check(&login.email, from).map_err(|wait| {
        metrics::counter!("boxoffice_admin_logins_total", "outcome" => "limited").increment(1);
        ApiError::too_many(
            ErrorCode::LoginRateLimited,
            "too many sign-in attempts; wait and try again",
            wait,
        )
    })?;
    let found = accounts::find_by_email(&state.db, &login.email).await?;
    let password = login.password.clone();
    let (account, ok) = tokio::task::spawn_blocking(move || match found {
        Some((account, hash)) => {
            let ok = accounts::verify_password(&hash, &password);
            (Some(account), ok)
        }
        None => {
            let _ = accounts::verify_password(accounts::decoy_hash(), &password);
            (None, false)
        }
    })
    .await
    .map_err(ApiError::unavailable)?;
    match account {
        Some(a) if ok => {
            metrics::counter!("boxoffice_admin_logins_total", "outcome" => "ok").increment(1);
            Ok(a)
        }
        _ => {
            metrics::counter!("boxoffice_admin_logins_total", "outcome" => "refused").increment(1);
            Err(ApiError::unauthorized(
                ErrorCode::LoginRefused,
                "that email and password do not match an account",
            ))
        }
    }
}

/// `POST /admin/api/v1/session`: signs in; sets the cookie; returns the account and the CSRF
/// token.
pub async fn login(
    State(state): State<AdminState>,
    ClientIp(from): ClientIp,
    headers: HeaderMap,
    ApiJson(body): ApiJson<Login>,
) -> Result<Response, ApiError> {
    if !same_origin(&headers) {
        return Err(ApiError::forbidden(
            ErrorCode::CrossOrigin,
            "a request from another origin is refused",
        ));
    }
    let account = check_login(&state, &body, from).await?;
    let (cookie, csrf) = open_session(&state, &account, user_agent(&headers)).await?;
    let mut response =
        Json(serde_json::json!({ "account": account, "csrf_token": csrf })).into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(response)
}

/// `DELETE /admin/api/v1/session`: signs out (the session row is deleted, the cookie cleared).
pub async fn logout(
    State(state): State<AdminState>,
    Staff(admin): Staff,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    end_session(&state, &headers).await?;
    let _ = admin;
    let mut response = axum::http::StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, session_cookie(&state, "", 0));
    Ok(response)
}

/// Deletes the request's session, if any.
pub async fn end_session(state: &AdminState, headers: &HeaderMap) -> Result<(), ApiError> {
    if let Some(token) = cookie_value(headers) {
        sessions::end(&state.db, &token_hash(&token)).await?;
    }
    Ok(())
}

/// A cleared cookie (sign-out).
pub fn cleared_cookie(state: &AdminState) -> HeaderValue {
    session_cookie(state, "", 0)
}

/// `GET /admin/api/v1/me` (door staff too: the scanner's script asks who it is).
pub async fn me(Staff(admin): Staff) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "account": admin.account, "csrf_token": admin.csrf }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limiter_refuses_the_sixth_attempt_in_a_minute_for_one_account_from_one_address() {
        let l = LoginLimiter::new(5);
        let ip = IpAddr::from([10, 0, 0, 1]);
        for _ in 0..5 {
            assert!(l.check("a@x.io", ip).is_ok());
        }
        assert!(l.check("A@x.io", ip).is_err(), "case does not dodge it");
        assert!(l.check("b@x.io", ip).is_ok(), "another account is separate");
    }

    #[test]
    fn failures_from_one_address_never_lock_the_account_out_of_another() {
        let l = LoginLimiter::new(5);
        let attacker = IpAddr::from([203, 0, 113, 1]);
        let refused = (0..100)
            .filter(|_| l.check("ops@x.io", attacker).is_err())
            .count();
        assert_eq!(refused, 95, "the attacker's address is stopped");
        assert!(
            l.check("other@x.io", attacker).is_err(),
            "and stopped for every account (the per-address bucket)"
        );
        assert!(
            l.check("ops@x.io", IpAddr::from([198, 51, 100, 9])).is_ok(),
            "the operator signs in from an address that has not failed"
        );
    }

    #[test]
    fn constant_time_equality_is_equality() {
        assert!(subtle_eq(b"abc", b"abc"));
        assert!(!subtle_eq(b"abc", b"abd"));
        assert!(!subtle_eq(b"abc", b"ab"));
    }
}
