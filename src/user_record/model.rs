//! The `users` row and its insert form.

use diesel::prelude::*;
use time::PrimitiveDateTime;

use crate::db::schema::users;
use crate::db::types::{UserStatus, UserType};

#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub email_lower: String,
    pub name: String,
    pub company: String,
    pub password_hash: Option<String>,
    pub user_type: UserType,
    pub status: UserStatus,
    pub status_reason: Option<String>,
    pub status_changed_at: Option<PrimitiveDateTime>,
    pub totp_secret: Option<String>,
    pub totp_enabled: bool,
    pub totp_last_step: Option<i64>,
    pub locale: Option<String>,
    pub last_login_at: Option<PrimitiveDateTime>,
    pub created_at: PrimitiveDateTime,
    pub updated_at: PrimitiveDateTime,
    pub deleted_at: Option<PrimitiveDateTime>,
    pub name_sort: String,
    pub last_login_sort: PrimitiveDateTime,
    pub erased_at: Option<PrimitiveDateTime>,
    /// The application they signed up in (see the sync API).
    pub signup_client_id: Option<String>,
}

/// The columns a list row shows and sorts by: lists never load secrets.
#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct Listed {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub company: String,
    pub user_type: UserType,
    pub status: UserStatus,
    pub last_login_at: Option<PrimitiveDateTime>,
    pub created_at: PrimitiveDateTime,
    pub name_sort: String,
    pub last_login_sort: PrimitiveDateTime,
    pub signup_client_id: Option<String>,
}

impl User {
    pub fn can_sign_in(&self) -> bool {
        self.status == UserStatus::Active
            && self.deleted_at.is_none()
            && self.password_hash.is_some()
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = users)]
pub struct NewUser<'a> {
    pub email: &'a str,
    pub email_lower: String,
    pub name: &'a str,
    pub company: &'a str,
    pub password_hash: Option<String>,
    pub user_type: UserType,
    pub status: UserStatus,
    pub created_at: PrimitiveDateTime,
    pub updated_at: PrimitiveDateTime,
    pub name_sort: String,
    pub search_keys: Option<String>,
    pub signup_client_id: Option<&'a str>,
}

impl<'a> NewUser<'a> {
    /// A row with its derived columns (lookup email, sort key, search keys)
    /// computed from the visible ones, and no password.
    pub fn new(
        email: &'a str,
        name: &'a str,
        company: &'a str,
        user_type: UserType,
        status: UserStatus,
        now: PrimitiveDateTime,
    ) -> Self {
        let Derived {
            email_lower,
            name_sort,
            search_keys,
        } = Derived::of(name, email, company);
        NewUser {
            email,
            email_lower,
            name,
            company,
            password_hash: None,
            user_type,
            status,
            created_at: now,
            updated_at: now,
            name_sort,
            search_keys,
            signup_client_id: None,
        }
    }
}

/// The columns computed from name, email and company, written together
/// wherever any of those change (profile edit, setup, erasure), so a row
/// never has a stale lookup email, sort key or search keys.
#[derive(AsChangeset)]
#[diesel(table_name = users)]
pub struct Derived {
    pub email_lower: String,
    pub name_sort: String,
    pub search_keys: Option<String>,
}

impl Derived {
    pub fn of(name: &str, email: &str, company: &str) -> Self {
        Derived {
            email_lower: normalize_email(email),
            name_sort: name_sort_key(name),
            search_keys: Some(crate::user_record::search_keys::column(
                name, email, company,
            )),
        }
    }
}

/// The key users are sorted by name with (Unicode-aware lower case).
pub fn name_sort_key(name: &str) -> String {
    name.trim().to_lowercase()
}

/// The form of an email used for uniqueness and lookups.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// A plausible address: one @, something on both sides, a dot in the domain.
pub fn is_valid_email(email: &str) -> bool {
    let email = email.trim();
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
}
