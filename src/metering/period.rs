//! Usage periods: calendar months in UTC, written `YYYY-MM`. A new month
//! is a new counter row, so nothing is ever reset in place.

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime};

/// A calendar month.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Period {
    pub year: i32,
    pub month: Month,
}

impl Period {
    /// The month `now` falls in (UTC).
    pub fn of(now: OffsetDateTime) -> Period {
        let utc = now.to_offset(time::UtcOffset::UTC);
        Period {
            year: utc.year(),
            month: utc.month(),
        }
    }

    pub fn of_primitive(now: PrimitiveDateTime) -> Period {
        Period {
            year: now.year(),
            month: now.month(),
        }
    }

    /// `2026-12` (a four-digit year, as the clock gives).
    pub fn parse(s: &str) -> Option<Period> {
        let (y, m) = s.split_once('-')?;
        if y.len() != 4 || m.len() != 2 {
            return None;
        }
        let month = Month::try_from(m.parse::<u8>().ok()?).ok()?;
        Some(Period {
            year: y.parse().ok()?,
            month,
        })
    }

    pub fn key(self) -> String {
        format!("{:04}-{:02}", self.year, self.month as u8)
    }

    pub fn start(self) -> PrimitiveDateTime {
        Date::from_calendar_date(self.year, self.month, 1)
            .unwrap_or(Date::MIN)
            .midnight()
    }

    pub fn next(self) -> Period {
        match self.month {
            Month::December => Period {
                year: self.year + 1,
                month: Month::January,
            },
            m => Period {
                year: self.year,
                month: m.next(),
            },
        }
    }

    pub fn previous(self) -> Period {
        match self.month {
            Month::January => Period {
                year: self.year - 1,
                month: Month::December,
            },
            m => Period {
                year: self.year,
                month: m.previous(),
            },
        }
    }

    /// When the counters start again from zero: the next month's first instant.
    pub fn resets_at(self) -> PrimitiveDateTime {
        self.next().start()
    }

    /// This month and the `n - 1` before it, newest first.
    pub fn last(self, n: usize) -> Vec<Period> {
        let mut out = Vec::with_capacity(n);
        let mut p = self;
        for _ in 0..n {
            out.push(p);
            p = p.previous();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn months_roll_over_years() {
        let p = Period::of(datetime!(2026-12-31 23:59:59 UTC));
        assert_eq!(p.key(), "2026-12");
        assert_eq!(p.next().key(), "2027-01");
        assert_eq!(p.resets_at(), datetime!(2027-01-01 00:00:00));
        assert_eq!(Period::parse("2027-01").unwrap().previous(), p);
        // Midnight in Paris on the 1st is still the previous month in UTC.
        let paris = datetime!(2027-01-01 00:30:00 +01:00);
        assert_eq!(Period::of(paris).key(), "2026-12");
        assert_eq!(Period::parse("2026-13"), None);
        assert_eq!(Period::parse("26-01"), None);
        let keys: Vec<String> = p.last(3).into_iter().map(Period::key).collect();
        assert_eq!(keys, ["2026-12", "2026-11", "2026-10"]);
    }
}
