//! Organizer, operator and door staff accounts: argon2id password hashes, looked up by email.

use argon2::{
    Argon2, PasswordHash, PasswordHasher, PasswordVerifier,
    password_hash::{SaltString, rand_core::OsRng},
};
use sqlx::PgPool;
use uuid::Uuid;

use super::StoreError;

/// What an account may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Sees and changes its own events and their orders.
    Organizer,
    /// Runs the platform: sees every organizer's events and orders.
    Operator,
    /// Door staff: the check-in scanner and its API, nothing else, for the events of the
    /// account it works for ([`Account::works_for`]; every event when that is an operator).
    Door,
}

impl Role {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Organizer => "organizer",
            Self::Operator => "operator",
            Self::Door => "door",
        }
    }

    /// From the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "organizer" => Some(Self::Organizer),
            "operator" => Some(Self::Operator),
            "door" => Some(Self::Door),
            _ => None,
        }
    }
}

/// An account as the admin side sees it (never its hash).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Account {
    /// Its id (`organizers.organizer_id`).
    pub id: Uuid,
    /// Login, lowercased.
    pub email: String,
    /// Shown in the UI.
    pub display_name: String,
    /// What it may do.
    pub role: Role,
    /// A door account's organizer (or operator): whose tickets it checks in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub works_for: Option<Uuid>,
}

/// Shortest password accepted.
pub const MIN_PASSWORD_LEN: usize = 10;

/// An argon2id PHC string for `password` (random salt, the crate's default parameters).
pub fn hash_password(password: &str) -> Result<String, StoreError> {
    Argon2::default()
        .hash_password(password.as_bytes(), &SaltString::generate(&mut OsRng))
        .map(|h| h.to_string())
        .map_err(|e| StoreError::Invalid(format!("cannot hash password: {e}")))
}

/// Whether `password` matches the PHC string `hash` (a malformed hash matches nothing).
pub fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// A hash of a password nobody has, verified against when the email is unknown so that a
/// login takes as long whether or not the account exists.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password("not a password anyone has").unwrap_or_default())
}

/// Creates an account, or with `update_existing` resets the name, password and role of the
/// one with that email and ends every admin session it has, in one transaction: a password
/// reset locks out whoever had the old one, and a role change applies at once (a session
/// carries no role of its own, but a page already open would go on showing the old role's
/// data until its next request). Returns its id.
pub async fn create_account(
    pool: &PgPool,
    email: &str,
    display_name: &str,
    password: &str,
    role: Role,
    update_existing: bool,
) -> Result<Uuid, StoreError> {
    if role == Role::Door {
        return Err(StoreError::Invalid(
            "a door account works for someone: create it with create_door_account".into(),
        ));
    }
    upsert(
        pool,
        email,
        display_name,
        password,
        role,
        None,
        update_existing,
    )
    .await
}

/// Creates a door staff account working for `works_for` (an organizer or operator), or with
/// `update_existing` resets the door account with that email (as [`create_account`] does; an
/// organizer or operator account is never turned into a door account this way). Returns its id.
pub async fn create_door_account(
    pool: &PgPool,
    email: &str,
    display_name: &str,
    password: &str,
    works_for: Uuid,
    update_existing: bool,
) -> Result<Uuid, StoreError> {
    let employer = sqlx::query_scalar!(
        "select role from organizers where organizer_id = $1",
        works_for
    )
    .fetch_optional(pool)
    .await
    .map_err(|e| StoreError::classify(e, "account", works_for))?;
    match employer.as_deref().and_then(Role::parse) {
        Some(Role::Organizer | Role::Operator) => {}
        Some(Role::Door) => {
            return Err(StoreError::Invalid(
                "a door account works for an organizer or an operator, not another door account"
                    .into(),
            ));
        }
        None => {
            return Err(StoreError::NotFound {
                entity: "account",
                key: works_for.to_string(),
            });
        }
    }
    if update_existing {
        let email = email.trim().to_lowercase();
        let existing = sqlx::query_scalar!("select role from organizers where email = $1", email)
            .fetch_optional(pool)
            .await
            .map_err(|e| StoreError::classify(e, "account", &email))?;
        if existing.is_some_and(|r| r != Role::Door.as_str()) {
            return Err(StoreError::Invalid(format!(
                "{email} is not a door account and stays what it is"
            )));
        }
    }
    upsert(
        pool,
        email,
        display_name,
        password,
        Role::Door,
        Some(works_for),
        update_existing,
    )
    .await
}

/// The insert (or upsert) behind both.
async fn upsert(
    pool: &PgPool,
    email: &str,
    display_name: &str,
    password: &str,
    role: Role,
    works_for: Option<Uuid>,
    update_existing: bool,
) -> Result<Uuid, StoreError> {
    let email = email.trim().to_lowercase();
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(StoreError::Invalid(format!(
            "a password needs at least {MIN_PASSWORD_LEN} characters"
        )));
    }
    let hash = hash_password(password)?;
    let classify = |e| StoreError::classify(e, "account", &email);
    let (new_id, display_name) = (Uuid::now_v7(), display_name.trim());
    let mut tx = pool.begin().await.map_err(StoreError::Unavailable)?;
    // Two literal statements, as the query macros check only literals: the same insert, one
    // of them an upsert.
    let id = if update_existing {
        sqlx::query_scalar!(
            "insert into organizers (organizer_id, email, display_name, password_hash, role, works_for)
             values ($1, $2, $3, $4, $5, $6)
             on conflict (email) do update set display_name = excluded.display_name,
                 password_hash = excluded.password_hash, role = excluded.role,
                 works_for = excluded.works_for
             returning organizer_id",
            new_id,
            email,
            display_name,
            hash,
            role.as_str(),
            works_for,
        )
        .fetch_one(&mut *tx)
        .await
    } else {
        sqlx::query_scalar!(
            "insert into organizers (organizer_id, email, display_name, password_hash, role, works_for)
             values ($1, $2, $3, $4, $5, $6) returning organizer_id",
            new_id,
            email,
            display_name,
            hash,
            role.as_str(),
            works_for,
        )
        .fetch_one(&mut *tx)
        .await
    }
    .map_err(classify)?;
    if update_existing {
        sqlx::query!("delete from admin_sessions where organizer_id = $1", id)
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
    }
    tx.commit().await.map_err(StoreError::Unavailable)?;
    Ok(id)
}

/// The account with this email and its password hash.
pub async fn find_by_email(
    pool: &PgPool,
    email: &str,
) -> Result<Option<(Account, String)>, StoreError> {
    let email = email.trim().to_lowercase();
    let row = sqlx::query!(
        "select organizer_id, email, display_name, role, works_for, password_hash from organizers where email = $1",
        email,
    )
    .fetch_optional(pool)
    .await
    .map_err(|e| StoreError::classify(e, "account", &email))?;
    Ok(row.and_then(|r| {
        let account = account_of(
            r.organizer_id,
            r.email,
            r.display_name,
            &r.role,
            r.works_for,
        )?;
        Some((account, r.password_hash))
    }))
}

/// The door staff accounts working for `works_for`, by name.
pub async fn door_accounts(pool: &PgPool, works_for: Uuid) -> Result<Vec<Account>, StoreError> {
    let rows = sqlx::query!(
        "select organizer_id, email, display_name, role, works_for from organizers
         where works_for = $1 and role = 'door' order by display_name, email",
        works_for,
    )
    .fetch_all(pool)
    .await
    .map_err(|e| StoreError::classify(e, "account", works_for))?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            account_of(
                r.organizer_id,
                r.email,
                r.display_name,
                &r.role,
                r.works_for,
            )
        })
        .collect())
}

/// The account in the columns of a row of `organizers` (`None`: a role this code does not
/// know).
pub(super) fn account_of(
    id: Uuid,
    email: String,
    display_name: String,
    role: &str,
    works_for: Option<Uuid>,
) -> Option<Account> {
    Some(Account {
        id,
        email,
        display_name,
        role: Role::parse(role)?,
        works_for,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_and_nothing_else() {
        let h = hash_password("correct horse battery").unwrap_or_default();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password(&h, "correct horse battery"));
        assert!(!verify_password(&h, "correct horse batterY"));
        assert!(!verify_password("not a phc string", "anything"));
    }
}
