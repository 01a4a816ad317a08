//! Credentials and secrets, with no HTTP in them: password hashing, TOTP,
//! recovery codes, the secret key and sealed values, the session store,
//! sign-in rate limits, and the reads the sign-in needs (credentials,
//! lockout, the actor of a session).

pub mod api_key;
pub mod attempts;
pub mod crypto;
pub mod key_ledger;
pub mod password;
pub mod rate_limit;
pub mod recovery;
pub mod secret_key;
pub mod session_store;
pub mod step_up;
pub mod store;
pub mod totp;
