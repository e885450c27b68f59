//! Signing in and out from the browser: the sign-in page and form, and the sign-out form.

use axum::{
    Form,
    extract::{State, rejection::FormRejection},
    http::{HeaderMap, StatusCode, header},
    response::{Html, IntoResponse, Redirect, Response},
};
use boxoffice_http::{
    client::ClientIp,
    error::{ApiError, ErrorCode},
    extract::ApiQuery,
};
use boxoffice_workflows::store::accounts::Role;
use maud::html;
use serde::Deserialize;

use super::{PageStaff, layout::layout};
use crate::{AdminState, auth};

#[derive(Debug, Deserialize)]
pub(super) struct Next {
    next: Option<String>,
}

fn safe_next(next: Option<&str>) -> String {
    // Only a path of ours: never an open redirect to another site.
    match next {
        Some(n) if n.starts_with("/admin") && !n.starts_with("//") => n.to_owned(),
        _ => "/admin/".into(),
    }
}

fn login_markup(next: &str, error: Option<&str>) -> Html<String> {
    layout(
        "Sign in",
        None,
        html! {
            section.card.narrow {
                h1 { "Sign in" }
                p.muted { "Organizer, operator and door staff accounts." }
                @if let Some(e) = error { p.form-error.shown role="alert" { (e) } }
                form method="post" action="/admin/login" {
                    input type="hidden" name="next" value=(next);
                    label { "Email" input #email type="email" name="email" required autocomplete="username"; }
                    label { "Password" input #password type="password" name="password" required autocomplete="current-password"; }
                    button.primary #sign-in type="submit" { "Sign in" }
                }
            }
        },
    )
}

/// `GET /admin/login`.
pub(super) async fn login_page(ApiQuery(q): ApiQuery<Next>) -> Html<String> {
    login_markup(&safe_next(q.next.as_deref()), None)
}

#[derive(Debug, Deserialize)]
pub(super) struct LoginForm {
    email: String,
    password: String,
    next: Option<String>,
}

/// `POST /admin/login`: signs in and goes to `next`, or shows the form again with why not.
pub(super) async fn login_form(
    State(state): State<AdminState>,
    ClientIp(from): ClientIp,
    headers: HeaderMap,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return (
            StatusCode::BAD_REQUEST,
            login_markup("/admin/", Some("Fill in both fields.")),
        )
            .into_response();
    };
    let next = safe_next(form.next.as_deref());
    if !auth::same_origin(&headers) {
        return (
            StatusCode::FORBIDDEN,
            login_markup(&next, Some("Sign in from this site.")),
        )
            .into_response();
    }
    let login = auth::Login {
        email: form.email,
        password: form.password,
    };
    let account = match auth::check_login(&state, &login, from).await {
        Ok(account) => account,
        Err(e) => return (e.status(), login_markup(&next, Some(&e.to_string()))).into_response(),
    };
    // Door staff land on the scanner, the one page they may use.
    let next = if account.role == Role::Door {
        "/admin/checkin".to_owned()
    } else {
        next
    };
    match auth::open_session(&state, &account, auth::user_agent(&headers)).await {
        Ok((cookie, _)) => {
            let mut r = Redirect::to(&next).into_response();
            r.headers_mut().insert(header::SET_COOKIE, cookie);
            r
        }
        Err(e) => e.into_response(),
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct LogoutForm {
    csrf: String,
}

/// `POST /admin/logout`: ends the session and goes to the sign-in page.
pub(super) async fn logout_form(
    State(state): State<AdminState>,
    PageStaff(admin): PageStaff,
    headers: HeaderMap,
    Form(form): Form<LogoutForm>,
) -> Response {
    if form.csrf != admin.csrf {
        return ApiError::forbidden(ErrorCode::CsrfInvalid, "stale form; reload the page")
            .into_response();
    }
    if let Err(e) = auth::end_session(&state, &headers).await {
        return e.into_response();
    }
    let mut r = Redirect::to("/admin/login").into_response();
    r.headers_mut()
        .insert(header::SET_COOKIE, auth::cleared_cookie(&state));
    r
}
