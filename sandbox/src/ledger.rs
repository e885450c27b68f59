//! The sandbox's money rules and its ledger on disk.
//!
//! Every change is appended to `ledger.jsonl` (one JSON record per line, fsynced) before it is
//! acknowledged, and replayed on start, so payments, refunds and idempotency keys survive a
//! restart of the sandbox like they would at a real provider.

use std::{
    collections::{BTreeMap, HashMap},
    fs::{File, OpenOptions},
    io::{BufRead, BufReader, Write},
    path::Path,
};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// Where a payment intent is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Created; the buyer has not paid at the hosted checkout yet.
    RequiresConfirmation,
    /// The buyer paid; the money is authorised, not captured (manual capture).
    Authorized,
    /// Captured.
    Captured,
    /// Voided before capture, or the checkout session expired.
    Canceled,
    /// Declined at checkout.
    Failed,
    /// Captured, then refunded in full.
    Refunded,
    /// Captured, then refunded in part.
    PartiallyRefunded,
}

/// A payment intent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Intent {
    /// `pi_...`
    pub id: String,
    /// Amount in minor units.
    pub amount: i64,
    /// ISO currency.
    pub currency: String,
    /// The merchant's order reference.
    pub order_id: String,
    /// Status.
    pub status: Status,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// The checkout session closes at this instant if not paid.
    pub expires_at: DateTime<Utc>,
    /// Captured so far.
    pub amount_captured: i64,
    /// Refunded so far.
    pub amount_refunded: i64,
    /// Where the buyer pays.
    pub checkout_url: String,
    /// Why it was declined, canceled or expired.
    pub reason: Option<String>,
}

/// A refund.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refund {
    /// `re_...`
    pub id: String,
    /// The refunded intent.
    pub payment_intent: String,
    /// Amount in minor units.
    pub amount: i64,
    /// Always `succeeded` in the sandbox.
    pub status: String,
    /// Created.
    pub created_at: DateTime<Utc>,
}

/// A reply stored under an idempotency key, with the fingerprint of the request that made it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredReply {
    /// Hash of method, path and body.
    pub fingerprint: String,
    /// HTTP status.
    pub status: u16,
    /// JSON body.
    pub body: serde_json::Value,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Record {
    Intent(Intent),
    Refund(Refund),
    Idempotency { key: String, reply: StoredReply },
}

/// Why an operation is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Refusal {
    /// No such intent.
    #[error("no such payment intent: {0}")]
    NotFound(String),
    /// Not allowed from the intent's current status.
    #[error("payment intent is {0:?}")]
    InvalidState(Status),
    /// The checkout session has expired.
    #[error("the checkout session expired")]
    Expired,
    /// A malformed value.
    #[error("{0}")]
    Invalid(String),
}

/// A webhook-worthy change.
#[derive(Debug, Clone)]
pub struct Change {
    /// Event type, e.g. `payment_intent.authorized`.
    pub kind: &'static str,
    /// The intent after the change.
    pub intent: Intent,
}

/// The ledger: intents, refunds and idempotency replies, in memory and on disk.
pub struct Ledger {
    file: File,
    intents: BTreeMap<String, Intent>,
    refunds: BTreeMap<String, Refund>,
    replies: HashMap<String, StoredReply>,
}

fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::now_v7().simple())
}

impl Ledger {
    /// Opens (or creates) the ledger in `dir`, replaying what is there.
    pub fn open(dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join("ledger.jsonl");
        let mut ledger = Self {
            file: OpenOptions::new().create(true).append(true).open(&path)?,
            intents: BTreeMap::new(),
            refunds: BTreeMap::new(),
            replies: HashMap::new(),
        };
        for line in BufReader::new(File::open(&path)?).lines() {
            let line = line?;
            // A torn last line (crash mid-write) was never acknowledged: skip it.
            let Ok(record) = serde_json::from_str::<Record>(&line) else {
                continue;
            };
            ledger.apply(record);
        }
        Ok(ledger)
    }

    fn apply(&mut self, record: Record) {
        match record {
            Record::Intent(i) => {
                self.intents.insert(i.id.clone(), i);
            }
            Record::Refund(r) => {
                self.refunds.insert(r.id.clone(), r);
            }
            Record::Idempotency { key, reply } => {
                self.replies.insert(key, reply);
            }
        }
    }

    fn persist(&mut self, record: Record) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(&record).map_err(std::io::Error::other)?;
        line.push(b'\n');
        self.file.write_all(&line)?;
        self.file.sync_data()?;
        self.apply(record);
        Ok(())
    }

    fn save(&mut self, intent: Intent) -> std::io::Result<Intent> {
        self.persist(Record::Intent(intent.clone()))?;
        Ok(intent)
    }

    /// The reply stored under `key`, if any.
    pub fn reply(&self, key: &str) -> Option<&StoredReply> {
        self.replies.get(key)
    }

    /// Stores the reply to a request made with `key`.
    pub fn remember_reply(&mut self, key: String, reply: StoredReply) -> std::io::Result<()> {
        self.persist(Record::Idempotency { key, reply })
    }

    /// One intent.
    pub fn intent(&self, id: &str) -> Result<&Intent, Refusal> {
        self.intents
            .get(id)
            .ok_or_else(|| Refusal::NotFound(id.to_owned()))
    }

    /// Intents in creation order (ids are time-ordered), after `starting_after`, optionally of
    /// one status; at most `limit`. Returns the page and whether more follow.
    pub fn list(
        &self,
        status: Option<Status>,
        starting_after: Option<&str>,
        limit: usize,
    ) -> (Vec<Intent>, bool) {
        let mut page: Vec<Intent> = self
            .intents
            .values()
            .filter(|i| starting_after.is_none_or(|after| i.id.as_str() > after))
            .filter(|i| status.is_none_or(|s| i.status == s))
            .take(limit + 1)
            .cloned()
            .collect();
        let more = page.len() > limit;
        page.truncate(limit);
        (page, more)
    }

    /// Creates an intent awaiting the buyer's payment.
    pub fn create(
        &mut self,
        amount: i64,
        currency: &str,
        order_id: &str,
        expires_at: DateTime<Utc>,
        checkout_base: &str,
    ) -> Result<std::io::Result<Intent>, Refusal> {
        let now = Utc::now();
        if amount <= 0 {
            return Err(Refusal::Invalid("amount must be positive".into()));
        }
        if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(Refusal::Invalid(
                "currency must be three upper-case letters".into(),
            ));
        }
        if order_id.is_empty() || order_id.len() > 200 {
            return Err(Refusal::Invalid(
                "order_id must be 1 to 200 characters".into(),
            ));
        }
        if expires_at <= now || expires_at > now + Duration::hours(24) {
            return Err(Refusal::Invalid(
                "expires_at must be in the next 24 hours".into(),
            ));
        }
        let id = new_id("pi");
        let intent = Intent {
            checkout_url: format!("{checkout_base}/checkout/{id}"),
            id,
            amount,
            currency: currency.to_owned(),
            order_id: order_id.to_owned(),
            status: Status::RequiresConfirmation,
            created_at: now,
            expires_at,
            amount_captured: 0,
            amount_refunded: 0,
            reason: None,
        };
        Ok(self.save(intent))
    }

    /// The buyer pays (`approve`) or is declined at the hosted checkout.
    pub fn confirm(&mut self, id: &str, approve: bool) -> Result<std::io::Result<Change>, Refusal> {
        let mut intent = self.intent(id)?.clone();
        if intent.status != Status::RequiresConfirmation {
            return Err(Refusal::InvalidState(intent.status));
        }
        if Utc::now() >= intent.expires_at {
            return Err(Refusal::Expired);
        }
        let kind = if approve {
            intent.status = Status::Authorized;
            "payment_intent.authorized"
        } else {
            intent.status = Status::Failed;
            intent.reason = Some("card_declined".into());
            "payment_intent.payment_failed"
        };
        Ok(self.save(intent).map(|intent| Change { kind, intent }))
    }

    /// Captures an authorised intent (the whole amount, or less).
    pub fn capture(
        &mut self,
        id: &str,
        amount: Option<i64>,
    ) -> Result<std::io::Result<Change>, Refusal> {
        let mut intent = self.intent(id)?.clone();
        if intent.status != Status::Authorized {
            return Err(Refusal::InvalidState(intent.status));
        }
        let amount = amount.unwrap_or(intent.amount);
        if amount <= 0 || amount > intent.amount {
            return Err(Refusal::Invalid(
                "capture amount must be in 1..=amount".into(),
            ));
        }
        intent.status = Status::Captured;
        intent.amount_captured = amount;
        Ok(self.save(intent).map(|intent| Change {
            kind: "payment_intent.captured",
            intent,
        }))
    }

    /// Voids an intent that was not captured.
    pub fn cancel(&mut self, id: &str, reason: &str) -> Result<std::io::Result<Change>, Refusal> {
        let mut intent = self.intent(id)?.clone();
        if !matches!(
            intent.status,
            Status::RequiresConfirmation | Status::Authorized
        ) {
            return Err(Refusal::InvalidState(intent.status));
        }
        intent.status = Status::Canceled;
        intent.reason = Some(reason.to_owned());
        Ok(self.save(intent).map(|intent| Change {
            kind: "payment_intent.canceled",
            intent,
        }))
    }

    /// Refunds captured money (all that is left, or less).
    pub fn refund(
        &mut self,
        id: &str,
        amount: Option<i64>,
    ) -> Result<std::io::Result<(Refund, Change)>, Refusal> {
        let mut intent = self.intent(id)?.clone();
        if !matches!(intent.status, Status::Captured | Status::PartiallyRefunded) {
            return Err(Refusal::InvalidState(intent.status));
        }
        let left = intent.amount_captured - intent.amount_refunded;
        let amount = amount.unwrap_or(left);
        if amount <= 0 || amount > left {
            return Err(Refusal::Invalid(format!(
                "refund amount must be in 1..={left}"
            )));
        }
        intent.amount_refunded += amount;
        intent.status = if intent.amount_refunded == intent.amount_captured {
            Status::Refunded
        } else {
            Status::PartiallyRefunded
        };
        let refund = Refund {
            id: new_id("re"),
            payment_intent: id.to_owned(),
            amount,
            status: "succeeded".into(),
            created_at: Utc::now(),
        };
        let saved = self
            .persist(Record::Refund(refund.clone()))
            .and_then(|()| self.save(intent))
            .map(|intent| {
                (
                    refund,
                    Change {
                        kind: "charge.refunded",
                        intent,
                    },
                )
            });
        Ok(saved)
    }

    /// Closes every checkout session past its expiry (what a provider's own timer does).
    pub fn expire_sessions(&mut self) -> std::io::Result<Vec<Change>> {
        let now = Utc::now();
        let due: Vec<String> = self
            .intents
            .values()
            .filter(|i| i.status == Status::RequiresConfirmation && i.expires_at <= now)
            .map(|i| i.id.clone())
            .collect();
        let mut changes = Vec::new();
        for id in due {
            if let Ok(change) = self.cancel(&id, "expired") {
                changes.push(change?);
            }
        }
        Ok(changes)
    }
}
