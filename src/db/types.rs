//! Closed sets stored as text (checked by a CHECK constraint in both engines)
//! and read back as Rust enums, so a value outside the set is an error at the
//! edge rather than a string travelling through the code.

/// Declares an enum stored as `Text`, with its database spelling.
#[macro_export]
macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
                 diesel::expression::AsExpression, diesel::deserialize::FromSqlRow)]
        #[diesel(sql_type = diesel::sql_types::Text)]
        pub enum $name { $(#[serde(rename = $text)] $variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl<DB> diesel::serialize::ToSql<diesel::sql_types::Text, DB> for $name
        where
            DB: diesel::backend::Backend,
            str: diesel::serialize::ToSql<diesel::sql_types::Text, DB>,
        {
            fn to_sql<'b>(&'b self, out: &mut diesel::serialize::Output<'b, '_, DB>) -> diesel::serialize::Result {
                <str as diesel::serialize::ToSql<diesel::sql_types::Text, DB>>::to_sql(self.as_str(), out)
            }
        }

        impl<DB> diesel::deserialize::FromSql<diesel::sql_types::Text, DB> for $name
        where
            DB: diesel::backend::Backend,
            String: diesel::deserialize::FromSql<diesel::sql_types::Text, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> diesel::deserialize::Result<Self> {
                let s = <String as diesel::deserialize::FromSql<diesel::sql_types::Text, DB>>::from_sql(bytes)?;
                Self::parse(&s).ok_or_else(|| format!("unexpected {} value '{}'", stringify!($name), s).into())
            }
        }
    };
}

text_enum!(
    /// Account lifecycle; only ACTIVE users can sign in.
    UserStatus { Active => "ACTIVE", Pending => "PENDING", Suspended => "SUSPENDED", Inactive => "INACTIVE" }
);

text_enum!(
    /// Staff of sowat.io or a customer.
    UserType { Internal => "INTERNAL", External => "EXTERNAL" }
);

impl UserStatus {
    /// The i18n key of the status's name.
    pub fn label_key(self) -> &'static str {
        match self {
            UserStatus::Active => "status.ACTIVE",
            UserStatus::Pending => "status.PENDING",
            UserStatus::Suspended => "status.SUSPENDED",
            UserStatus::Inactive => "status.INACTIVE",
        }
    }
}

text_enum!(RoleScope { Platform => "PLATFORM", Workspace => "WORKSPACE" });

text_enum!(
    /// A member's role in a workspace (was a free string in the old app).
    WorkspaceRole { Manager => "MANAGER", Member => "MEMBER" }
);

text_enum!(Outcome { Allowed => "allowed", Denied => "denied" });

text_enum!(ActorType { User => "user", ApiKey => "api_key", System => "system", Anonymous => "anonymous" });

text_enum!(
    /// What a one-time link may be used for.
    TokenPurpose { FirstAdmin => "first_admin", AdminInvite => "admin_invite", Invite => "invite", PasswordReset => "password_reset" }
);
