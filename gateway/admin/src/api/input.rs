//! Checks of what an organizer types, each failing with the precise 422 the API documents.

use boxoffice_http::error::{ApiError, ErrorCode};

/// Trimmed text of 1 to `max` characters, without control characters (PostgreSQL refuses a
/// NUL byte outright; the others only garble pages).
pub(crate) fn text(field: &'static str, v: &str, max: usize) -> Result<String, ApiError> {
    let v = v.trim();
    if has_control(v) {
        return Err(ApiError::unprocessable(
            ErrorCode::InvalidField,
            format!("{field} must not contain control characters"),
        ));
    }
    if v.is_empty() || v.chars().count() > max {
        return Err(ApiError::unprocessable(
            ErrorCode::InvalidField,
            format!("{field} must be 1 to {max} characters"),
        ));
    }
    Ok(v.to_owned())
}

/// Optional text: absent or blank is `None`, anything else as [`text`] checks it.
pub(crate) fn optional_text(
    field: &'static str,
    v: Option<&str>,
    max: usize,
) -> Result<Option<String>, ApiError> {
    v.filter(|v| !v.trim().is_empty())
        .map(|v| text(field, v, max))
        .transpose()
}

/// Whether `v` has a control character other than a line break or a tab.
pub(crate) fn has_control(v: &str) -> bool {
    v.chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
}

/// An IANA time zone name (`UTC`, or `Area/Location` of safe characters).
pub(crate) fn timezone(v: &str) -> Result<String, ApiError> {
    let ok = v == "UTC"
        || (v.contains('/')
            && v.len() <= 64
            && v.split('/').all(|p| {
                !p.is_empty()
                    && p.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_+-".contains(c))
            }));
    if ok {
        Ok(v.to_owned())
    } else {
        Err(ApiError::unprocessable(
            ErrorCode::InvalidTimezone,
            "give an IANA time zone such as Europe/Berlin",
        ))
    }
}

/// `v` within `lo..=hi`.
pub(crate) fn in_range(field: &'static str, v: i64, lo: i64, hi: i64) -> Result<i32, ApiError> {
    if (lo..=hi).contains(&v) {
        Ok(v as i32)
    } else {
        Err(ApiError::unprocessable(
            ErrorCode::OutOfRange,
            format!("{field} must be between {lo} and {hi}"),
        ))
    }
}

/// Seat labels, as a list or one comma-separated string (`B-1, B-2`): trimmed, sorted,
/// without duplicates, 1 to 10,000 of them.
pub(crate) fn labels(v: &serde_json::Value) -> Result<Vec<String>, ApiError> {
    let not_labels =
        || ApiError::unprocessable(ErrorCode::InvalidSeats, "seats is a list of seat labels");
    let raw: Vec<String> = match v {
        serde_json::Value::String(s) => s.split(',').map(|l| l.trim().to_owned()).collect(),
        serde_json::Value::Array(a) => a
            .iter()
            .map(|x| x.as_str().map(|s| s.trim().to_owned()))
            .collect::<Option<_>>()
            .ok_or_else(not_labels)?,
        _ => return Err(not_labels()),
    };
    let mut out: Vec<String> = raw.into_iter().filter(|l| !l.is_empty()).collect();
    out.sort();
    out.dedup();
    if out.is_empty() || out.len() > 10_000 {
        return Err(ApiError::unprocessable(
            ErrorCode::InvalidSeats,
            "name 1 to 10000 seats",
        ));
    }
    Ok(out)
}

/// Tells a field set to `null` (clear it) from a field left out (keep it).
pub(crate) mod double_option {
    use serde::{Deserialize, Deserializer};

    pub(crate) fn deserialize<'de, T, D>(d: D) -> Result<Option<Option<T>>, D::Error>
    where
        T: Deserialize<'de>,
        D: Deserializer<'de>,
    {
        Option::<T>::deserialize(d).map(Some)
    }
}
