//! An organizer at the admin API: signs in, keeps the session cookie and CSRF token, and
//! sends JSON with both.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use boxoffice_workflows::store::accounts::{Role, create_account};

/// A status and a JSON body (`Null` when the body is not JSON).
pub type Answer = (u16, Value);

/// A new account with a random email; returns (email, password).
pub async fn account(db: &sqlx::PgPool, role: Role) -> (String, String) {
    let email = format!("{}@promoter.test", uuid::Uuid::new_v4().simple());
    let password = "correct horse battery staple".to_owned();
    create_account(db, &email, "Test Promoter", &password, role, false)
        .await
        .expect("account");
    (email, password)
}

/// Gives the organizer that owns `event` a known password; returns its email and password.
pub async fn owner_of(db: &sqlx::PgPool, event: uuid::Uuid) -> (String, String) {
    let password = "correct horse battery staple".to_owned();
    let hash = boxoffice_workflows::store::accounts::hash_password(&password).unwrap();
    let email = sqlx::query_scalar!(
        "update organizers set password_hash = $2
         where organizer_id = (select organizer_id from events where event_id = $1) returning email",
        event,
        hash,
    )
    .fetch_one(db)
    .await
    .unwrap();
    (email, password)
}

/// A signed-in admin client.
#[derive(Clone)]
pub struct AdminClient {
    /// The gateway.
    pub base: String,
    http: reqwest::Client,
    /// `bo_admin=<secret>`.
    pub cookie: String,
    /// The session's CSRF token.
    pub csrf: String,
}

async fn answer(r: reqwest::Response) -> Answer {
    let status = r.status().as_u16();
    let text = r.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

impl AdminClient {
    /// Signs in (panics unless it works).
    pub async fn login(base: &str, email: &str, password: &str) -> Self {
        let http = reqwest::Client::new();
        let r = http
            .post(format!("{base}/admin/api/v1/session"))
            .json(&serde_json::json!({ "email": email, "password": password }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "login failed");
        let set = r
            .headers()
            .get("set-cookie")
            .expect("a session cookie")
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            set.contains("HttpOnly") && set.contains("SameSite=Strict"),
            "{set}"
        );
        let cookie = set.split(';').next().unwrap().to_owned();
        let body: Value = r.json().await.unwrap();
        Self {
            base: base.to_owned(),
            http,
            cookie,
            csrf: body["csrf_token"].as_str().unwrap().to_owned(),
        }
    }

    /// Sends `body` (if any) with the cookie and CSRF token.
    pub async fn send(&self, method: Method, path: &str, body: Option<&Value>) -> Answer {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .header("x-csrf-token", &self.csrf);
        if let Some(b) = body {
            req = req.json(b);
        }
        answer(req.send().await.unwrap()).await
    }

    /// GET.
    pub async fn get(&self, path: &str) -> Answer {
        self.send(Method::GET, path, None).await
    }

    /// POST JSON.
    pub async fn post(&self, path: &str, body: &Value) -> Answer {
        self.send(Method::POST, path, Some(body)).await
    }

    /// PATCH JSON.
    pub async fn patch(&self, path: &str, body: &Value) -> Answer {
        self.send(Method::PATCH, path, Some(body)).await
    }

    /// DELETE.
    pub async fn delete(&self, path: &str) -> Answer {
        self.send(Method::DELETE, path, None).await
    }

    /// GET returning the raw status and text (CSV, pages).
    pub async fn text(&self, path: &str) -> (u16, String) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap_or_default())
    }

    /// Creates a draft event with a seated section `A` (`rows`, `seats`) and returns its id.
    pub async fn draft_event(&self, name: &str) -> String {
        let starts = chrono::Utc::now() + chrono::Duration::days(30);
        let (s, ev) = self
            .post(
                "/admin/api/v1/events",
                &serde_json::json!({ "name": name, "venue": "Hall", "timezone": "Europe/Berlin", "starts_at": starts }),
            )
            .await;
        assert_eq!(s, 201, "{ev}");
        let id = ev["id"].as_str().unwrap().to_owned();
        let (s, body) = self
            .post(
                &format!("/admin/api/v1/events/{id}/sections"),
                &serde_json::json!({ "code": "A", "name": "Stalls", "price_cents": 4500, "seats": "rows A-B, seats 1-5" }),
            )
            .await;
        assert_eq!(s, 201, "{body}");
        id
    }
}
