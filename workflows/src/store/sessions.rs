//! Admin sessions (`admin_sessions`): a row per signed-in browser, keyed by the SHA-256 of the
//! secret its cookie carries, so that sign-out, expiry and an account update end it at once.

use sqlx::PgPool;
use uuid::Uuid;

use super::{
    StoreError,
    accounts::{self, Account},
};

fn classify(e: sqlx::Error) -> StoreError {
    StoreError::classify(e, "session", "")
}

/// A new session.
#[derive(Debug, Clone)]
pub struct NewSession<'a> {
    /// SHA-256 of the cookie's secret.
    pub key: &'a [u8],
    /// The account signed in.
    pub account: Uuid,
    /// The session's CSRF token.
    pub csrf: &'a str,
    /// Lifetime, seconds.
    pub ttl_s: i64,
    /// The browser, as it says (kept for the account's owner to recognise it).
    pub user_agent: Option<&'a str>,
}

/// Stores a session, and sweeps those expired a day ago or more (as new ones open: no job to
/// run).
pub async fn open(pool: &PgPool, s: &NewSession<'_>) -> Result<(), StoreError> {
    sqlx::query!(
        "insert into admin_sessions (token_hash, organizer_id, csrf_token, expires_at, user_agent)
         values ($1, $2, $3, now() + make_interval(secs => $4), $5)",
        s.key,
        s.account,
        s.csrf,
        s.ttl_s as f64,
        s.user_agent
            .map(|u| u.chars().take(200).collect::<String>()),
    )
    .execute(pool)
    .await
    .map_err(classify)?;
    // A failed sweep costs nothing but a few stale rows until the next sign-in.
    let _ = sqlx::query!("delete from admin_sessions where expires_at < now() - interval '1 day'")
        .execute(pool)
        .await;
    Ok(())
}

/// The account behind an unexpired session, with the session's CSRF token.
pub async fn find(pool: &PgPool, key: &[u8]) -> Result<Option<(Account, String)>, StoreError> {
    let row = sqlx::query!(
        "select o.organizer_id, o.email, o.display_name, o.role, o.works_for, s.csrf_token
         from admin_sessions s join organizers o using (organizer_id)
         where s.token_hash = $1 and s.expires_at > now()",
        key,
    )
    .fetch_optional(pool)
    .await
    .map_err(classify)?;
    Ok(row.and_then(|r| {
        let account = accounts::account_of(
            r.organizer_id,
            r.email,
            r.display_name,
            &r.role,
            r.works_for,
        )?;
        Some((account, r.csrf_token))
    }))
}

/// Whether the session is still there and unexpired (sign-out, expiry and an account update
/// all end it).
pub async fn alive(pool: &PgPool, key: &[u8]) -> Result<bool, StoreError> {
    sqlx::query_scalar!(
        r#"select exists (select 1 from admin_sessions where token_hash = $1 and expires_at > now()) as "alive!""#,
        key,
    )
    .fetch_one(pool)
    .await
    .map_err(classify)
}

/// Ends the session (sign-out).
pub async fn end(pool: &PgPool, key: &[u8]) -> Result<(), StoreError> {
    sqlx::query!("delete from admin_sessions where token_hash = $1", key)
        .execute(pool)
        .await
        .map_err(classify)?;
    Ok(())
}
