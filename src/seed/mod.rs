//! `sowat-admin seed`: data to try the product (`--demo`) and to measure it
//! (`--bench --users N`). Each batch of users is one `INSERT … SELECT` over a
//! JSON array bound as a single parameter, so a million users take seconds,
//! not a million round trips. Names are drawn from lists by the row number:
//! deterministic, varied, realistic enough to search.

use diesel_async::RunQueryDsl;
use serde_json::json;

use crate::audit::RequestMeta;
use crate::audit::{self, ActorRef, Event};
use crate::clock::Clock;
use crate::db::{Db, Pool};
use crate::security::crypto::SecretBox;
use crate::security::{password, store as auth_store, totp};

mod names;
use names::FIRST;

use crate::user_record::model::name_sort_key;
use crate::user_record::search_keys;

/// Name, email and company of generated user number `n`: drawn from the
/// name lists by the number, so the same `n` always gives the same person.
struct People {
    last: Vec<String>,
    companies: Vec<(String, String)>,
    /// Step through the last names (see [`last_name_stride`]).
    stride: usize,
}

/// A step through the last names such that users `n` and `n + k·F` (same
/// first name, F first names) get different last names for every k below
/// the number of last names: a few hundred users have a few hundred
/// surnames, and (first, last) pairs stay distinct over F × L users.
fn last_name_stride(firsts: usize, lasts: usize) -> usize {
    fn gcd(a: usize, b: usize) -> usize {
        if b == 0 { a } else { gcd(b, a % b) }
    }
    (7..).find(|s| gcd(1 + s * firsts, lasts) == 1).unwrap_or(1)
}

/// A name as mail providers write it: ASCII, lower case, no spaces.
fn ascii_local(s: &str) -> String {
    s.to_lowercase()
        .chars()
        .filter_map(|c| match c {
            'à' | 'â' | 'ä' => Some('a'),
            'é' | 'è' | 'ê' | 'ë' => Some('e'),
            'î' | 'ï' => Some('i'),
            'ô' | 'ö' => Some('o'),
            'ù' | 'û' | 'ü' => Some('u'),
            'ç' => Some('c'),
            'a'..='z' | '0'..='9' | '-' => Some(c),
            _ => None,
        })
        .collect()
}

impl People {
    fn new() -> People {
        let last = names::last_names();
        People {
            stride: last_name_stride(FIRST.len(), last.len()),
            last,
            companies: names::companies(),
        }
    }

    fn person(&self, n: i64) -> (String, String, String) {
        let n = n.unsigned_abs() as usize;
        let (firsts, lasts) = (FIRST.len(), self.last.len());
        let first = FIRST[n % firsts];
        let last = &self.last[(n / firsts + n * self.stride) % lasts];
        // Colleagues share a company: a multiplicative hash spreads them.
        let pick = n.wrapping_mul(2_654_435_761) >> 9;
        let (company, domain) = &self.companies[pick % self.companies.len()];
        let mut local = format!("{}.{}", ascii_local(first), ascii_local(last));
        let accented = !first.is_ascii() || !last.is_ascii();
        if accented && n % 23 == 4 && !company.is_empty() {
            // A few companies issue internationalised addresses (RFC 6531).
            local = format!("{first}.{last}").to_lowercase();
        } else if n % 5 == 3 {
            local = format!("{}_{}", ascii_local(first), ascii_local(last));
        }
        if n >= firsts * lasts {
            // Beyond the distinct pairs (benchmarks): the number keeps it unique.
            local = format!("{local}.{n}");
        }
        (
            format!("{first} {last}"),
            format!("{local}@{domain}"),
            company.clone(),
        )
    }

    /// Users `from..=to` as a JSON array of rows: the columns computed by
    /// the application (sort and search keys) come from its own code.
    fn batch(&self, from: i64, to: i64) -> String {
        let rows: Vec<serde_json::Value> = (from..=to)
            .map(|n| {
                let (name, email, company) = self.person(n);
                json!([
                    n,
                    email,
                    name,
                    name_sort_key(&name),
                    company,
                    search_keys::column(&name, &email, &company)
                ])
            })
            .collect();
        serde_json::Value::Array(rows).to_string()
    }
}

/// Inserts the users of one batch (bound as JSON, see [`People::batch`]):
/// statuses, types, creation spread over the two years before
/// 2026-12-01, two active users in three with a sign-in since; pending
/// users (invited, never set up) have none.
fn users_sql(sqlite: bool) -> String {
    let (series, created, login, later, epoch) = if sqlite {
        (
            "WITH s AS (SELECT CAST(value ->> 0 AS INTEGER) AS n, value ->> 1 AS email, value ->> 2 AS name,
                               value ->> 3 AS name_sort, value ->> 4 AS company, value ->> 5 AS search_keys
                        FROM json_each(?))",
            "datetime('2024-12-01', '+' || ((s.n * 2654435761) % 63072000) || ' seconds')",
            "datetime('2026-12-01', '-' || ((s.n * 40503) % 10368000) || ' seconds')",
            "max",
            "'1970-01-01 00:00:00'",
        )
    } else {
        (
            "WITH s AS (SELECT CAST(value ->> 0 AS BIGINT) AS n, value ->> 1 AS email, value ->> 2 AS name,
                               value ->> 3 AS name_sort, value ->> 4 AS company, value ->> 5 AS search_keys
                        FROM json_array_elements(CAST($1 AS json)))",
            "TIMESTAMP '2024-12-01' + ((s.n * 2654435761) % 63072000) * INTERVAL '1 second'",
            "TIMESTAMP '2026-12-01' - ((s.n * 40503) % 10368000) * INTERVAL '1 second'",
            "GREATEST",
            "TIMESTAMP '1970-01-01 00:00:00'",
        )
    };
    let status = "CASE WHEN s.n % 23 = 1 THEN 'SUSPENDED' WHEN s.n % 23 = 2 THEN 'PENDING' WHEN s.n % 23 = 3 THEN 'INACTIVE' ELSE 'ACTIVE' END";
    // A sign-in after the account was created, for two users in three who
    // ever completed their setup.
    let signed_in = "(s.n % 3 <> 0 AND s.n % 23 <> 2)";
    let login_at = format!("{later}({created}, {login})");
    format!(
        "{series}
         INSERT INTO users (email, email_lower, name, name_sort, company, search_keys, user_type, status, status_reason,
                            created_at, updated_at, last_login_at, last_login_sort, totp_enabled)
         SELECT s.email, s.email, s.name, s.name_sort, s.company, s.search_keys,
                CASE WHEN s.n % 11 = 0 THEN 'INTERNAL' ELSE 'EXTERNAL' END,
                {status},
                CASE WHEN s.n % 23 = 1 THEN 'Unpaid invoices' WHEN s.n % 23 = 3 THEN 'Asked to close the account' ELSE NULL END,
                {created}, {created},
                CASE WHEN {signed_in} THEN {login_at} ELSE NULL END,
                CASE WHEN {signed_in} THEN {login_at} ELSE {epoch} END,
                FALSE
         FROM s"
    )
}

/// Roles for a sprinkling of internal users, one sign-in event per
/// sign-in (browsers and apps varied), a few refused passwords; none for
/// pending users.
fn extras_sql(first_id: i64) -> String {
    format!(
        "INSERT INTO user_roles (user_id, role_id, granted_at)
           SELECT id, CASE WHEN id % 3 = 0 THEN 2 WHEN id % 3 = 1 THEN 4 ELSE 3 END, created_at
           FROM users WHERE id >= {first_id} AND user_type = 'INTERNAL' AND status = 'ACTIVE' AND id % 7 = 0;
         INSERT INTO login_events (user_id, at, ip, user_agent, client_id, event, success, reason)
           SELECT id, last_login_at, '192.0.2.' || (id % 250),
                  CASE id % 5
                    WHEN 0 THEN 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15'
                    WHEN 1 THEN 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36'
                    WHEN 2 THEN 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1'
                    WHEN 3 THEN 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0'
                    ELSE 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36'
                  END,
                  CASE WHEN id % 5 IN (2, 4) THEN 'mobile-app' ELSE 'app' END, 'sign_in', TRUE, NULL
           FROM users WHERE id >= {first_id} AND last_login_at IS NOT NULL;
         INSERT INTO login_events (user_id, at, ip, user_agent, client_id, event, success, reason)
           SELECT id, created_at, '198.51.100.' || (id % 250), 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0', 'app', 'password', FALSE, 'bad_password'
           FROM users WHERE id >= {first_id} AND id % 13 = 0 AND status <> 'PENDING';"
    )
}

/// `events` audit events over the two years before 2026-12-01, in time
/// order, with the spread of a working backoffice: sign-ins (two in five),
/// refused sign-ins and denied accesses, staff changing users (profiles,
/// statuses, notes, roles, exports) and sessions ending. Actors and targets
/// are the users `first_id..first_id + users`; forty of them act as staff.
/// Batches of 200,000 rows, each one `INSERT … SELECT` over a number series,
/// in time order so the ids rise with the times, as they do in production.
async fn audit_history(db: &mut Db, first_id: i64, users: i64, events: i64) -> Result<(), String> {
    let sqlite = db.is_sqlite();
    let batch = 200_000;
    let span = 63_072_000i64; // two years, in seconds
    let mut done = 0;
    while done < events {
        let n = batch.min(events - done);
        // The address's search key (audit::address): 198.51.100.0/24
        // mapped into IPv6, then the last byte in hex.
        let ip_low_byte = if sqlite {
            "printf('%02x', x.n % 250)"
        } else {
            "lpad(to_hex(x.n % 250), 2, '0')"
        };
        let (series, at) = if sqlite {
            (
                format!(
                    "WITH RECURSIVE g(n) AS (SELECT {from} UNION ALL SELECT n + 1 FROM g WHERE n < {to})",
                    from = done + 1,
                    to = done + n
                ),
                format!("datetime('2024-12-01', '+' || (x.n * {span} / {events}) || ' seconds')"),
            )
        } else {
            (
                format!(
                    "WITH g(n) AS (SELECT generate_series({from}::bigint, {to}::bigint))",
                    from = done + 1,
                    to = done + n
                ),
                format!("TIMESTAMP '2024-12-01' + (x.n * {span} / {events}) * INTERVAL '1 second'"),
            )
        };
        // The bucket b = n·37 mod 100 picks the action; a person is picked
        // by a multiplicative hash of n, the staff among forty users.
        let status_change = r#"{"before":{"status":"ACTIVE"},"after":{"status":"SUSPENDED"},"reason":"Unpaid invoices"}"#;
        let denied = r#"{"path":"/admin/audit","permission":"audit.read"}"#;
        let sql = format!(
            "{series}
             INSERT INTO audit_events (at, actor_type, actor_id, actor_label, action, target_type, target_id,
                                       outcome, ip, ip_key, user_agent, client_id, request_id, details)
             SELECT {at},
                    CASE WHEN x.b >= 40 AND x.b < 48 THEN 'anonymous' ELSE 'user' END,
                    CASE WHEN x.b < 40 OR (x.b >= 48 AND x.b < 50) OR (x.b >= 85 AND x.b < 90) THEN p.id
                         WHEN x.b < 48 THEN NULL ELSE s.id END,
                    CASE WHEN x.b < 40 OR (x.b >= 48 AND x.b < 50) OR (x.b >= 85 AND x.b < 90) THEN p.email
                         WHEN x.b < 48 THEN 'anonymous' ELSE s.email END,
                    CASE WHEN x.b < 40 THEN 'auth.sign_in' WHEN x.b < 48 THEN 'auth.sign_in_failed'
                         WHEN x.b < 50 THEN 'access.denied' WHEN x.b < 70 THEN 'user.updated'
                         WHEN x.b < 80 THEN 'user.status_changed' WHEN x.b < 85 THEN 'user.note_added'
                         WHEN x.b < 90 THEN 'session.ended' WHEN x.b < 95 THEN 'user.role_granted'
                         ELSE 'user.exported_csv' END,
                    CASE WHEN x.b >= 48 AND x.b < 50 THEN NULL ELSE 'user' END,
                    CASE WHEN x.b >= 48 AND x.b < 50 THEN NULL ELSE CAST(p.id AS TEXT) END,
                    CASE WHEN x.b >= 40 AND x.b < 50 THEN 'denied' ELSE 'allowed' END,
                    '198.51.100.' || (x.n % 250),
                    '00000000000000000000ffffc63364' || {ip_low_byte},
                    'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0',
                    CASE WHEN x.b < 50 THEN 'app' ELSE 'admin-ui' END,
                    NULL,
                    CASE WHEN x.b >= 70 AND x.b < 80 THEN '{status_change}'
                         WHEN x.b >= 48 AND x.b < 50 THEN '{denied}' ELSE '{{}}' END
             FROM (SELECT n, (n * 37) % 100 AS b FROM g) AS x
             JOIN users p ON p.id = {first_id} + (x.n * 7919) % {users}
             JOIN users s ON s.id = {first_id} + ((x.n % 40) * 11) % {users}
             ORDER BY x.n"
        );
        let begin = if sqlite { "BEGIN IMMEDIATE" } else { "BEGIN" };
        db.execute_batch(begin).await.map_err(|e| e.to_string())?;
        crate::db_run!(db, |c| diesel::sql_query(&sql).execute(c).await)
            .map_err(|e| e.to_string())?;
        db.execute_batch("COMMIT")
            .await
            .map_err(|e| e.to_string())?;
        done += n;
        eprintln!("  {done} / {events} audit events");
    }
    Ok(())
}

/// `spaces` workspaces (`club-1` … named `Club 1` …) and `memberships`
/// memberships among the users `first_id..first_id + users`: the first
/// workspace, `club-1`, gets up to 5,000 members (three managers), the
/// others share the rest, each led by one manager. One `INSERT … SELECT`
/// per 200,000 rows over a number series; a pair drawn twice is skipped
/// (`WHERE TRUE`: SQLite's upsert after a SELECT needs a WHERE). The
/// workspaces of one statement get consecutive ids.
async fn workspaces_bench(
    db: &mut Db,
    first_id: i64,
    users: i64,
    spaces: i64,
    memberships: i64,
) -> Result<(), String> {
    let sqlite = db.is_sqlite();
    // Seeding again (more users into the same database) keeps the
    // workspaces of the first run: their addresses are fixed.
    let seeded: i64 = {
        use crate::db::schema::workspaces;
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        crate::db_run!(db, |c| workspaces::table
            .filter(workspaces::slug.eq("club-1"))
            .count()
            .get_result(c)
            .await)
        .map_err(|e| e.to_string())?
    };
    if seeded > 0 {
        eprintln!("  workspaces already seeded: kept");
        return Ok(());
    }
    let series = |from: i64, to: i64| {
        if sqlite {
            format!(
                "WITH RECURSIVE g(n) AS (SELECT {from} UNION ALL SELECT n + 1 FROM g WHERE n < {to})"
            )
        } else {
            format!("WITH g(n) AS (SELECT generate_series({from}::bigint, {to}::bigint))")
        }
    };
    let mut statements = vec![format!(
        "{} INSERT INTO workspaces (slug, name, is_base, settings, created_at)
         SELECT 'club-' || g.n, 'Club ' || g.n, FALSE, '{{}}', CURRENT_TIMESTAMP FROM g",
        series(1, spaces)
    )];
    // Workspace ids are read back once: joining on a computed address
    // would make SQLite compare every workspace with every row.
    in_transactions(db, std::mem::take(&mut statements)).await?;
    let first_ws: i64 = {
        use crate::db::schema::workspaces;
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        crate::db_run!(db, |c| workspaces::table
            .filter(workspaces::slug.eq("club-1"))
            .select(workspaces::id)
            .first(c)
            .await)
        .map_err(|e| e.to_string())?
    };
    let big = (users.min(5_000)).min(memberships);
    // The large workspace: users spread by a prime stride.
    statements.push(format!(
        "{} INSERT INTO workspace_members (workspace_id, user_id, role, created_at)
         SELECT {first_ws}, {first_id} + (g.n * 7919) % {users}, CASE WHEN g.n < 3 THEN 'MANAGER' ELSE 'MEMBER' END, CURRENT_TIMESTAMP
         FROM g WHERE TRUE ON CONFLICT DO NOTHING",
        series(0, big - 1)
    ));
    // The others: membership m goes to workspace 2 + m mod (spaces − 1),
    // its first round (m < spaces − 1) as manager.
    let others = (spaces - 1).max(1);
    let mut done = 0;
    let rest = memberships - big;
    while done < rest && spaces > 1 {
        let n = 200_000.min(rest - done);
        statements.push(format!(
            "{} INSERT INTO workspace_members (workspace_id, user_id, role, created_at)
             SELECT {first_ws} + 1 + g.n % {others}, {first_id} + (g.n * 7919 + 13) % {users},
                    CASE WHEN g.n < {others} THEN 'MANAGER' ELSE 'MEMBER' END, CURRENT_TIMESTAMP
             FROM g WHERE TRUE ON CONFLICT DO NOTHING",
            series(done, done + n - 1)
        ));
        done += n;
    }
    in_transactions(db, statements).await?;
    // One statement per call (VACUUM refuses to run in a batch); without
    // statistics PostgreSQL takes the new workspaces for one row and joins
    // them first when loading a signed-in user's memberships.
    let analyze: &[&str] = if sqlite {
        &["ANALYZE;"]
    } else {
        &["VACUUM ANALYZE workspace_members", "ANALYZE workspaces"]
    };
    for sql in analyze {
        db.execute_batch(sql).await.map_err(|e| e.to_string())?;
    }
    eprintln!("  {spaces} workspaces, {memberships} memberships");
    Ok(())
}

/// Each statement in a transaction of its own (SQLite: taking the write
/// lock first, waiting for it rather than failing midway).
async fn in_transactions(db: &mut Db, statements: Vec<String>) -> Result<(), String> {
    let begin = if db.is_sqlite() {
        "BEGIN IMMEDIATE"
    } else {
        "BEGIN"
    };
    for sql in statements {
        db.execute_batch(begin).await.map_err(|e| e.to_string())?;
        crate::db_run!(db, |c| diesel::sql_query(&sql).execute(c).await)
            .map_err(|e| e.to_string())?;
        db.execute_batch("COMMIT")
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

async fn next_number(db: &mut Db) -> Result<i64, diesel::result::Error> {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    let max: Option<i64> = crate::db_run!(db, |c| crate::db::schema::users::table
        .select(diesel::dsl::max(crate::db::schema::users::id))
        .first(c)
        .await)?;
    Ok(max.unwrap_or(0) + 1)
}

pub struct Seeded {
    pub users: i64,
    pub bench_admin: Option<(String, String, String)>,
}

/// Inserts `count` users (in batches) and their roles and sign-ins.
/// With `secrets`, also creates an administrator for the benchmark script.
pub async fn users(
    pool: &Pool,
    clock: &Clock,
    count: i64,
    secrets: Option<&SecretBox>,
) -> Result<Seeded, String> {
    let mut db = pool.get().await.map_err(|e| e.to_string())?;
    let sqlite = db.is_sqlite();
    let people = People::new();
    let start = next_number(&mut db).await.map_err(|e| e.to_string())?;
    let batch = 100_000;
    let mut done = 0;
    while done < count {
        let n = batch.min(count - done);
        let (from, to) = (start + done, start + done + n - 1);
        // SQLite: take the write lock now (waiting for it), rather than
        // failing midway if the running service is writing.
        let begin = if sqlite { "BEGIN IMMEDIATE" } else { "BEGIN" };
        db.execute_batch(begin).await.map_err(|e| e.to_string())?;
        let rows = people.batch(from, to);
        let sql = users_sql(sqlite);
        crate::db_run!(&mut db, |c| diesel::sql_query(&sql)
            .bind::<diesel::sql_types::Text, _>(&rows)
            .execute(c)
            .await)
        .map_err(|e| e.to_string())?;
        db.execute_batch("COMMIT")
            .await
            .map_err(|e| e.to_string())?;
        done += n;
        eprintln!("  {done} / {count} users");
    }
    let first_id = start;
    db.execute_batch(&extras_sql(first_id))
        .await
        .map_err(|e| e.to_string())?;
    if !sqlite {
        // Bulk inserts leave the trigram index's pending list full and the
        // visibility map empty: do what autovacuum would do in production.
        // One statement per call: VACUUM refuses to run in a batch.
        for sql in [
            "SELECT gin_clean_pending_list('users_search_trgm_idx')",
            "VACUUM ANALYZE users",
            "VACUUM ANALYZE user_roles",
            "VACUUM ANALYZE login_events",
        ] {
            db.execute_batch(sql).await.map_err(|e| e.to_string())?;
        }
    } else {
        db.execute_batch("ANALYZE;")
            .await
            .map_err(|e| e.to_string())?;
    }
    let admin = match secrets {
        Some(s) => {
            // Benchmarks read the audit trail too: two events per user.
            audit_history(&mut db, first_id, count, 2 * count).await?;
            let linked = crate::audit::chain::seal_pending(&mut db, None)
                .await
                .map_err(|e| e.to_string())?;
            eprintln!("  {linked} audit events linked into the chain");
            // And workspaces: 20,000 (one per five users, at least one)
            // holding ten memberships per user, up to 1,000,000.
            let spaces = (count / 5).clamp(1, 20_000);
            workspaces_bench(
                &mut db,
                first_id,
                count,
                spaces,
                (count * 10).min(1_000_000),
            )
            .await?;
            Some(create_bench_admin(&mut db, clock, s).await?)
        }
        None => None,
    };
    let now = clock.now_primitive();
    let ev = Event::new(crate::audit::Action::Seeded)
        .details(json!({ "users": count, "first_id": first_id }));
    audit::record_alone(&mut db, now, &ActorRef::system(), &cli_meta(), ev)
        .await
        .map_err(|e| e.to_string())?;
    Ok(Seeded {
        users: count,
        bench_admin: admin,
    })
}

/// An administrator the benchmark signs in as: email, password, TOTP secret (base32).
/// Where changes made from the command line come from.
fn cli_meta() -> RequestMeta {
    RequestMeta {
        client_id: "cli".into(),
        ..RequestMeta::default()
    }
}

async fn create_bench_admin(
    db: &mut Db,
    clock: &Clock,
    secrets: &SecretBox,
) -> Result<(String, String, String), String> {
    use crate::db::schema::users;
    use diesel_async::RunQueryDsl;
    let email = format!("bench-admin-{}@sowat.test", clock.now().unix_timestamp());
    let pass = crate::security::crypto::random_token();
    let hash = password::hash(&pass)?;
    let now = clock.now_primitive();
    let secret = totp::generate_secret();
    let sealed = secrets.encrypt(&secret)?;
    let audited_email = email.clone();
    db.transaction(|tx| {
        Box::pin(async move {
            let new = crate::user_record::model::NewUser {
                password_hash: Some(hash),
                ..crate::user_record::model::NewUser::new(
                    &audited_email,
                    "Bench Admin",
                    "sowat.io",
                    crate::db::types::UserType::Internal,
                    crate::db::types::UserStatus::Active,
                    now,
                )
            };
            let id: i64 = crate::db_run!(tx, |c| diesel::insert_into(users::table).values(&new).returning(users::id).get_result(c).await)?;
            auth_store::grant_role(tx, id, crate::access::ADMIN_ROLE, None, now).await?;
            auth_store::enable_totp(tx, id, &sealed, 0, now).await?;
            let ev = Event::new(crate::audit::Action::UserCreated)
                .target("user", id)
                .details(json!({ "email": audited_email, "roles": [crate::access::ADMIN_ROLE], "by": "seed --bench" }));
            audit::record(tx, now, &ActorRef::system(), &cli_meta(), ev).await
        })
    })
    .await
    .map_err(|e: diesel::result::Error| e.to_string())?;
    Ok((email, pass, totp::base32(&secret)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_people_are_varied_and_unique() {
        let people = People::new();
        let persons: Vec<_> = (1..=20_000).map(|n| people.person(n)).collect();
        let mut emails: Vec<&String> = persons.iter().map(|p| &p.1).collect();
        emails.sort();
        emails.dedup();
        assert_eq!(emails.len(), persons.len(), "every address unique");
        // The first 300 (a demo) carry hundreds of surnames, not two.
        let mut lasts: Vec<&str> = persons[..300]
            .iter()
            .filter_map(|p| p.0.split_once(' ').map(|(_, l)| l))
            .collect();
        lasts.sort();
        lasts.dedup();
        assert!(lasts.len() > 250, "{} surnames", lasts.len());
        // Local parts are ASCII but for a few internationalised ones.
        let non_ascii = persons[..1000].iter().filter(|p| !p.1.is_ascii()).count();
        assert!((1..=15).contains(&non_ascii), "{non_ascii}");
    }
}
