//! Addresses as the audit trail searches them. Each event's address is also
//! stored as a key of 32 hex digits (its 16 bytes, an IPv4 address mapped
//! into IPv6), so that a network, any prefix length, is one range of that
//! column, answered by its index: text addresses do not sort by number
//! ("10.0.0.10" before "10.0.0.9") and cannot express a /20.

use std::net::IpAddr;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::db::Db;
use crate::db::schema::audit_events;
use crate::db_run;

/// The searchable key of a stored address; `None` if it is not one.
pub fn key(ip: &str) -> Option<String> {
    ip.trim().parse::<IpAddr>().ok().map(|ip| hex(as_v6(ip)))
}

fn as_v6(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(v4.to_ipv6_mapped()),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

fn hex(bits: u128) -> String {
    format!("{bits:032x}")
}

/// The keys of an address (`203.0.113.7`) or a network
/// (`203.0.113.0/24`, `2001:db8::/32`) as an inclusive range; `None` when
/// the input is neither.
pub fn range(input: &str) -> Option<(String, String)> {
    let input = input.trim();
    let (addr, prefix) = match input.split_once('/') {
        Some((a, p)) => (a, Some(p.parse::<u32>().ok()?)),
        None => (input, None),
    };
    let ip: IpAddr = addr.parse().ok()?;
    let (bits, max) = match ip {
        IpAddr::V4(_) => (as_v6(ip), 32),
        IpAddr::V6(_) => (as_v6(ip), 128),
    };
    let prefix = prefix.unwrap_or(max);
    if prefix > max {
        return None;
    }
    // An IPv4 prefix counts from the mapped address's 97th bit.
    let host_bits = max - prefix;
    let mask = if host_bits == 128 {
        u128::MAX
    } else {
        (1u128 << host_bits) - 1
    };
    Some((hex(bits & !mask), hex(bits | mask)))
}

/// Fills the keys of events stored before the column existed, a batch at a
/// time, one statement per address of the batch (few addresses, many
/// events). Returns how many events got a key.
pub async fn backfill(db: &mut Db) -> QueryResult<usize> {
    let mut filled = 0;
    loop {
        let batch: Vec<(i64, Option<String>)> = db_run!(db, |c| audit_events::table
            .filter(audit_events::ip_key.is_null())
            .filter(audit_events::ip.is_not_null())
            .select((audit_events::id, audit_events::ip))
            .order(audit_events::id)
            .limit(5_000)
            .load(c)
            .await)?;
        if batch.is_empty() {
            return Ok(filled);
        }
        let mut by_key: std::collections::BTreeMap<String, Vec<i64>> = Default::default();
        for (id, ip) in &batch {
            // Not an address (never written by this program): an empty key
            // takes it out of the batch without matching any network.
            let k = ip.as_deref().and_then(key).unwrap_or_default();
            by_key.entry(k).or_default().push(*id);
        }
        db.transaction(|db| {
            Box::pin(async move {
                for (k, ids) in &by_key {
                    db_run!(db, |c| diesel::update(
                        audit_events::table.filter(audit_events::id.eq_any(ids))
                    )
                    .set(audit_events::ip_key.eq(k))
                    .execute(c)
                    .await)?;
                }
                Ok::<_, diesel::result::Error>(())
            })
        })
        .await?;
        filled += batch.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v6(s: &str) -> u128 {
        u128::from(s.parse::<std::net::Ipv6Addr>().expect("an address"))
    }

    #[test]
    fn keys_sort_as_numbers() {
        let a = key("10.0.0.9").unwrap();
        let b = key("10.0.0.10").unwrap();
        assert!(a < b);
        assert_eq!(a, "00000000000000000000ffff0a000009");
        assert_eq!(key("::1").unwrap(), hex(1));
        assert_eq!(key("nonsense"), None);
    }

    #[test]
    fn a_network_is_a_range_of_keys() {
        let (lo, hi) = range("203.0.113.0/24").unwrap();
        assert!(lo <= key("203.0.113.0").unwrap() && key("203.0.113.255").unwrap() <= hi);
        assert!(key("203.0.114.0").unwrap() > hi);
        let (lo, hi) = range("10.0.16.0/20").unwrap();
        assert!(key("10.0.31.255").unwrap() <= hi && key("10.0.32.0").unwrap() > hi);
        assert!(key("10.0.15.255").unwrap() < lo);
        let (lo, hi) = range("2001:db8::/32").unwrap();
        assert_eq!(lo, hex(v6("2001:db8::")));
        assert_eq!(hi, hex(v6("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff")));
        assert_eq!(
            range("198.51.100.7"),
            Some((key("198.51.100.7").unwrap(), key("198.51.100.7").unwrap()))
        );
        assert_eq!(range("0.0.0.0/0").map(|r| r.0), key("0.0.0.0"));
        assert_eq!(range("::/0"), Some((hex(0), hex(u128::MAX))));
        assert_eq!(range("10.0.0.0/33"), None);
        assert_eq!(range("10.0.0/8"), None);
        assert_eq!(range("10.0.0.0/x"), None);
    }
}
