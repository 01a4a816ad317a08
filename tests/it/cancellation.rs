//! A request the client abandons (hyper drops the handler's future) must
//! leave nothing behind: no half-committed change, no lock held, no
//! connection handed to the next request inside someone else's transaction.

use std::time::Duration;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use sowat_admin::db::schema::users;
use sowat_admin::db::types::{UserStatus, UserType};
use sowat_admin::db::{Pool, Tx};
use sowat_admin::db_run;
use sowat_admin::user_record::model::NewUser;

use crate::harness::TestApp;

async fn insert_user(
    tx: &mut Tx<'_>,
    email: &str,
    now: time::PrimitiveDateTime,
) -> QueryResult<()> {
    let new = NewUser::new(
        email,
        "Half Done",
        "",
        UserType::External,
        UserStatus::Active,
        now,
    );
    db_run!(tx, |c| diesel::insert_into(users::table)
        .values(&new)
        .execute(c)
        .await)?;
    Ok(())
}

async fn users_named(app: &TestApp, email: &str) -> i64 {
    let mut db = app.db().await;
    db_run!(&mut db, |c| users::table
        .filter(users::email.eq(email))
        .count()
        .get_result::<i64>(c)
        .await)
    .expect("count")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_dropped_midway_commits_nothing_and_blocks_nobody() {
    let app = TestApp::spawn().await;
    let now = app.clock.now_primitive();
    // One connection: whatever the dropped request leaves is what the next
    // request gets.
    let pool = Pool::new(&app.running().state.config.backend, 1).expect("pool");
    let mut db = pool.get().await.expect("connection");
    let abandoned = db.transaction(|tx| {
        Box::pin(async move {
            insert_user(tx, "half@done.test", now).await?;
            // The client goes away here, before the audit row and the commit.
            std::future::pending::<()>().await;
            Ok::<_, diesel::result::Error>(())
        })
    });
    assert!(
        tokio::time::timeout(Duration::from_millis(300), abandoned)
            .await
            .is_err(),
        "the change was meant to be cut off midway"
    );
    drop(db);

    // The next request on the same pool writes and commits normally...
    let mut db = pool.get().await.expect("connection after the drop");
    db.transaction(|tx| Box::pin(async move { insert_user(tx, "next@write.test", now).await }))
        .await
        .expect("the next write on that pool");
    drop(db);
    // ...and so does the application, whose writers never waited on a lock.
    let mut db = app.db().await;
    db.transaction(|tx| Box::pin(async move { insert_user(tx, "app@write.test", now).await }))
        .await
        .expect("a write through the application's pool");
    drop(db);

    assert_eq!(
        users_named(&app, "half@done.test").await,
        0,
        "nothing of the dropped change committed"
    );
    assert_eq!(users_named(&app, "next@write.test").await, 1);
    assert_eq!(users_named(&app, "app@write.test").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_dropped_midway_does_not_poison_the_next_checkout() {
    let app = TestApp::spawn().await;
    let pool = Pool::new(&app.running().state.config.backend, 1).expect("pool");
    let mut db = pool.get().await.expect("connection");
    let slow = if db.is_sqlite() {
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000000) SELECT count(*) FROM n"
    } else {
        "SELECT pg_sleep(2)"
    };
    let query = async { db_run!(&mut db, |c| diesel::sql_query(slow).execute(c).await) };
    assert!(
        tokio::time::timeout(Duration::from_millis(20), query)
            .await
            .is_err(),
        "the query was meant to be cut off"
    );
    drop(db);
    // The next request gets a working connection (not one still busy on a
    // blocking thread, which diesel-async would panic on).
    let mut db = pool.get().await.expect("connection after the drop");
    let one = db_run!(&mut db, |c| diesel::sql_query("SELECT 1").execute(c).await);
    assert!(one.is_ok(), "{one:?}");
}
