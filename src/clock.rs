//! The only source of "now". Tests move it forward to cross TOTP steps, lockout
//! windows and session expiry without sleeping; `clippy.toml` forbids reading
//! the system clock anywhere else.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use time::{Duration, OffsetDateTime, PrimitiveDateTime};

/// Wall clock plus an offset that only tests change.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    offset_secs: Arc<AtomicI64>,
}

impl Clock {
    pub fn system() -> Self {
        Self::default()
    }

    #[allow(clippy::disallowed_methods)] // the one sanctioned call
    pub fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc() + Duration::seconds(self.offset_secs.load(Ordering::Relaxed))
    }

    /// UTC time without offset, as stored in the database on both engines.
    pub fn now_primitive(&self) -> PrimitiveDateTime {
        let now = self.now();
        PrimitiveDateTime::new(now.date(), now.time())
    }

    pub fn unix(&self) -> u64 {
        u64::try_from(self.now().unix_timestamp()).unwrap_or(0)
    }

    /// Moves time forward (tests only use this; it is harmless elsewhere).
    pub fn advance(&self, by: Duration) {
        self.offset_secs
            .fetch_add(by.whole_seconds(), Ordering::Relaxed);
    }
}

/// Converts a stored UTC timestamp back into an offset-aware one.
pub fn to_utc(t: PrimitiveDateTime) -> OffsetDateTime {
    t.assume_utc()
}
