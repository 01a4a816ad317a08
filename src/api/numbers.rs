//! Integers as JSON Schema's "integer" allows them: `3` or `3.0`, in a
//! body or in a path, and a field that is present must hold one (`null`
//! is not "absent").

use serde::{Deserialize, Deserializer};
use serde_json::{Value, json};

use crate::web::api_error::ApiError;

/// The largest integer a JSON number holds exactly (2^53 - 1), the
/// documented maximum of ids in the API's bodies.
const MAX_SAFE: f64 = 9_007_199_254_740_991.0;

fn of_f64(f: f64) -> Option<i64> {
    (f.fract() == 0.0 && f.abs() <= MAX_SAFE).then_some(f as i64)
}

/// A JSON number that is a whole number, or the API's 422 naming the field.
pub fn whole(n: &serde_json::Number, field: &str) -> Result<i64, ApiError> {
    n.as_i64()
        .or_else(|| n.as_f64().and_then(of_f64))
        .ok_or_else(|| {
            ApiError::invalid(format!("{field} is an integer"))
                .details(vec![json!({ "field": field })])
        })
}

/// An optional field's value, present even when it is `null` (serde reads
/// `null` as absent): `#[serde(default, deserialize_with = "numbers::present")]`.
pub fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// An optional integer field: `default` when absent, 422 when it is
/// anything but a whole number (`null` included).
pub fn optional(v: Option<&Value>, field: &str, default: i64) -> Result<i64, ApiError> {
    match v {
        None => Ok(default),
        Some(Value::Number(n)) => whole(n, field),
        Some(_) => Err(ApiError::invalid(format!("{field} is an integer"))
            .details(vec![json!({ "field": field })])),
    }
}

/// An id in a path (`42`, or `42.0` as a schema-valid integer), or 422.
pub fn path_id(raw: &str, what: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>()
        .ok()
        .or_else(|| raw.parse::<f64>().ok().and_then(of_f64))
        .ok_or_else(|| ApiError::invalid(format!("the {what} id must be an integer")))
}

/// A whole number from the query string (`?limit=50`) within `min..=max`,
/// `default` when absent, the API's 422 naming it otherwise.
pub fn query_number(
    pairs: &[(String, String)],
    key: &str,
    default: u64,
    min: u64,
    max: u64,
) -> Result<u64, ApiError> {
    match pairs.iter().find(|(k, _)| k == key) {
        None => Ok(default),
        Some((_, v)) => v
            .parse::<u64>()
            .ok()
            .filter(|n| (min..=max).contains(n))
            .ok_or_else(|| {
                ApiError::invalid(format!("{key} is a whole number from {min} to {max}"))
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_numbers_in_either_spelling() {
        assert_eq!(path_id("42", "user").ok(), Some(42));
        assert_eq!(path_id("42.0", "user").ok(), Some(42));
        assert!(path_id("42.5", "user").is_err());
        assert!(path_id("1e300", "user").is_err());
        assert_eq!(optional(None, "amount", 1).ok(), Some(1));
        assert!(optional(Some(&Value::Null), "amount", 1).is_err());
        assert_eq!(optional(Some(&json!(3.0)), "amount", 1).ok(), Some(3));
    }
}
