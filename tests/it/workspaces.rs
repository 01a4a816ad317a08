//! Workspace governance rules that hold wherever a user changes: a
//! workspace never loses its last manager.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use reqwest::StatusCode;
use sowat_admin::db::schema::{users, workspace_members, workspaces};
use sowat_admin::db_run;

use crate::harness::{Kind, TestApp, select_text};

async fn workspace(app: &TestApp, slug: &str, managers: &[i64], members: &[i64]) -> i64 {
    let now = app.clock.now_primitive();
    let mut db = app.db().await;
    let id: i64 = db_run!(&mut db, |c| diesel::insert_into(workspaces::table)
        .values((
            workspaces::slug.eq(slug),
            workspaces::name.eq(format!("Club {slug}")),
            workspaces::is_base.eq(false),
            workspaces::settings.eq("{}"),
            workspaces::created_at.eq(now),
        ))
        .returning(workspaces::id)
        .get_result(c)
        .await)
    .unwrap();
    let roles = managers
        .iter()
        .map(|u| (*u, "MANAGER"))
        .chain(members.iter().map(|u| (*u, "MEMBER")));
    for (user, role) in roles {
        db_run!(&mut db, |c| diesel::insert_into(workspace_members::table)
            .values((
                workspace_members::workspace_id.eq(id),
                workspace_members::user_id.eq(user),
                workspace_members::role.eq(role),
                workspace_members::created_at.eq(now),
            ))
            .execute(c)
            .await)
        .unwrap();
    }
    id
}

#[tokio::test(flavor = "multi_thread")]
async fn the_last_manager_is_neither_suspended_nor_deleted_nor_erased() {
    let app = TestApp::spawn().await;
    let (c, _) = app.client_as(Kind::Admin).await;
    let manager = app.create_user("manager@club.test", &[], false).await;
    let member = app.create_user("member@club.test", &[], false).await;
    workspace(&app, "rowing", &[manager.id], &[member.id]).await;

    let status = format!("/admin/users/{}/status", manager.id);
    let res = app
        .post_form(&c, &status, &[("status", "SUSPENDED"), ("reason", "left")])
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        select_text(&res.text().await.unwrap(), ".form-error")[0].contains("last manager"),
        "the refusal says why"
    );
    let delete = format!("/admin/users/{}/delete", manager.id);
    let res = app.post_form(&c, &delete, &[]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains("last manager"));
    let erase = format!("/admin/users/{}/erase", manager.id);
    let res = app
        .post_form(&c, &erase, &[("confirm_email", "manager@club.test")])
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains("last manager"));
    let mut db = app.db().await;
    let (status_now, deleted): (String, Option<time::PrimitiveDateTime>) =
        db_run!(&mut db, |c| users::table
            .find(manager.id)
            .select((users::status, users::deleted_at))
            .first(c)
            .await)
        .unwrap();
    assert_eq!((status_now.as_str(), deleted), ("ACTIVE", None));
    // A member is no manager: suspended as anyone else.
    let res = app
        .post_form(
            &c,
            &format!("/admin/users/{}/status", member.id),
            &[("status", "SUSPENDED"), ("reason", "left")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    // A suspended co-manager does not count; an active one does.
    let other = app.create_user("second@club.test", &[], false).await;
    workspace(&app, "sailing", &[manager.id, other.id], &[]).await;
    db_run!(&mut db, |c| diesel::insert_into(workspace_members::table)
        .values((
            workspace_members::workspace_id.eq(workspaces::table
                .filter(workspaces::slug.eq("rowing"))
                .select(workspaces::id)
                .single_value()
                .assume_not_null()),
            workspace_members::user_id.eq(member.id),
            workspace_members::role.eq("MANAGER"),
            workspace_members::created_at.eq(app.clock.now_primitive()),
        ))
        .on_conflict((workspace_members::workspace_id, workspace_members::user_id))
        .do_update()
        .set(workspace_members::role.eq("MANAGER"))
        .execute(c)
        .await)
    .unwrap();
    let res = app
        .post_form(&c, &status, &[("status", "SUSPENDED"), ("reason", "left")])
        .await;
    assert_eq!(
        res.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "rowing's other manager is suspended"
    );
    let res = app
        .post_form(
            &c,
            &format!("/admin/users/{}/status", member.id),
            &[("status", "ACTIVE"), ("reason", "back")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let res = app
        .post_form(&c, &status, &[("status", "SUSPENDED"), ("reason", "left")])
        .await;
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "both clubs keep a manager"
    );
}
