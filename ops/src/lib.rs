//! `boxoffice-ops`: the operator CLI (`boxofficectl`), the benchmarks (`boxoffice-bench`) and
//! the on-sale simulator (`boxoffice-sim`).
//!
//! The bash scripts beside this crate (`ops/*.sh`, `ops/bench`) start services and call these
//! binaries; the binaries themselves never start servers.

pub mod bench;
pub mod demo;
pub mod sim;

/// Median of a non-empty list of measurements (the machines are shared and noisy).
pub fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    match xs.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => xs[n / 2],
        n => (xs[n / 2 - 1] + xs[n / 2]) / 2.0,
    }
}

/// The `q` quantile (0..=1) of latencies in milliseconds.
pub fn quantile_ms(mut xs: Vec<f64>, q: f64) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    xs.sort_by(f64::total_cmp);
    let i = ((xs.len() as f64 - 1.0) * q).round() as usize;
    xs[i.min(xs.len() - 1)]
}

/// Creates a fresh, migrated database beside the maintenance database `url` points at, and
/// returns its URL.
pub async fn fresh_database(url: &str) -> anyhow::Result<String> {
    use sqlx::{Connection, Executor};
    let name = format!("bench_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(url).await?;
    admin
        .execute(sqlx::AssertSqlSafe(format!("create database {name}")))
        .await?;
    let base = url.rsplit_once('/').map_or(url, |(b, _)| b);
    let db_url = format!("{base}/{name}");
    boxoffice_workflows::store::migrate(&sqlx::PgPool::connect(&db_url).await?).await?;
    Ok(db_url)
}
