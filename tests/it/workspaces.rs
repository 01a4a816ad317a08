//! Workspace governance rules that hold wherever a user changes: a
//! workspace never loses its last manager.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use reqwest::StatusCode;
use sowat_admin::audit::{ActorRef, RequestMeta};
use sowat_admin::change::{By, ChangeError};
use sowat_admin::db::schema::{audit_events, users, workspace_members, workspaces};
use sowat_admin::db::types::WorkspaceRole;
use sowat_admin::db_run;
use sowat_admin::workspaces::changes;
use sowat_admin::workspaces::settings::WorkspaceSettings;

use crate::harness::{Kind, TestApp, select_text};

pub(crate) async fn workspace(app: &TestApp, slug: &str, managers: &[i64], members: &[i64]) -> i64 {
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

/// Runs one workspace change as `by` in its own transaction.
macro_rules! change {
    ($app:expr, $by:expr, |$tx:ident, $b:ident| $body:expr) => {{
        let mut db = $app.db().await;
        let by = $by.clone();
        db.transaction(|$tx| {
            Box::pin(async move {
                let $b = &by;
                $body.await
            })
        })
        .await
    }};
}

fn invalid<T: std::fmt::Debug>(r: Result<T, ChangeError>) -> &'static str {
    match r {
        Err(ChangeError::Invalid(key)) => key,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn workspace_changes_are_audited_protect_base_and_keep_a_manager() {
    let app = TestApp::spawn().await;
    let admin = app.create_user("boss@club.test", &["admin"], true).await;
    let by = By {
        actor: ActorRef::user(admin.id, &admin.email),
        meta: RequestMeta::default(),
        now: app.clock.now_primitive(),
    };
    let anna = app.create_user("anna@club.test", &[], false).await;
    let ben = app.create_user("ben@club.test", &[], false).await;
    let settings = WorkspaceSettings {
        description: "Rowing on the Loire".into(),
        ..WorkspaceSettings::default()
    };

    // BASE is never renamed, archived or deleted.
    assert_eq!(
        invalid(change!(app, by, |tx, b| changes::rename(tx, b, 1, "Other"))),
        "workspaces.base_protected"
    );
    assert_eq!(
        invalid(change!(app, by, |tx, b| changes::archive(tx, b, 1))),
        "workspaces.base_protected"
    );
    assert_eq!(
        invalid(change!(app, by, |tx, b| changes::delete(tx, b, 1))),
        "workspaces.base_protected"
    );

    let s = settings.clone();
    let ws = change!(app, by, |tx, b| changes::create(
        tx, b, "rowing", "Rowing", &s
    ))
    .unwrap();
    let s = settings.clone();
    assert_eq!(
        invalid(change!(app, by, |tx, b| changes::create(
            tx, b, "rowing", "Again", &s
        ))),
        "workspaces.slug_taken"
    );
    let s = settings.clone();
    assert_eq!(
        invalid(change!(app, by, |tx, b| changes::create(
            tx, b, "-Bad", "Bad", &s
        ))),
        "workspaces.slug_invalid"
    );
    let (a, bn) = (anna.id, ben.id);
    change!(app, by, |tx, b| changes::add_member(
        tx,
        b,
        ws,
        a,
        WorkspaceRole::Manager
    ))
    .unwrap();
    change!(app, by, |tx, b| changes::add_member(
        tx,
        b,
        ws,
        bn,
        WorkspaceRole::Member
    ))
    .unwrap();
    assert_eq!(
        invalid(change!(app, by, |tx, b| changes::add_member(
            tx,
            b,
            ws,
            bn,
            WorkspaceRole::Manager
        ))),
        "workspaces.already_member"
    );
    // Anna is the only manager: neither demoted nor removed.
    assert_eq!(
        invalid(change!(app, by, |tx, b| changes::set_member_role(
            tx,
            b,
            ws,
            a,
            WorkspaceRole::Member
        ))),
        "workspaces.last_manager"
    );
    assert_eq!(
        invalid(change!(app, by, |tx, b| changes::remove_member(
            tx, b, ws, a
        ))),
        "workspaces.last_manager"
    );
    // Ben promoted: then Anna may go.
    assert!(
        change!(app, by, |tx, b| changes::set_member_role(
            tx,
            b,
            ws,
            bn,
            WorkspaceRole::Manager
        ))
        .unwrap()
    );
    change!(app, by, |tx, b| changes::remove_member(tx, b, ws, a)).unwrap();

    // Settings are typed; archiving makes the workspace read-only.
    let mut s = settings.clone();
    s.require_two_factor = true;
    assert!(change!(app, by, |tx, b| changes::set_settings(tx, b, ws, &s)).unwrap());
    change!(app, by, |tx, b| changes::archive(tx, b, ws)).unwrap();
    assert_eq!(
        invalid(change!(app, by, |tx, b| changes::add_member(
            tx,
            b,
            ws,
            a,
            WorkspaceRole::Member
        ))),
        "workspaces.archived"
    );
    change!(app, by, |tx, b| changes::restore(tx, b, ws)).unwrap();
    assert!(change!(app, by, |tx, b| changes::rename(tx, b, ws, "Rowing club")).unwrap());
    change!(app, by, |tx, b| changes::delete(tx, b, ws)).unwrap();
    assert!(matches!(
        change!(app, by, |tx, b| changes::rename(tx, b, ws, "Gone")),
        Err(ChangeError::NotFound)
    ));

    // Every change is in the workspace's history.
    let mut db = app.db().await;
    let history: Vec<String> = db_run!(&mut db, |c| audit_events::table
        .filter(audit_events::workspace_id.eq(ws))
        .order(audit_events::id)
        .select(audit_events::action)
        .load(c)
        .await)
    .unwrap();
    assert_eq!(
        history,
        [
            "workspace.created",
            "workspace.member_added",
            "workspace.member_added",
            "workspace.member_role_changed",
            "workspace.member_removed",
            "workspace.settings_changed",
            "workspace.archived",
            "workspace.restored",
            "workspace.renamed",
            "workspace.deleted",
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn administrators_run_workspaces_from_their_screens() {
    let app = TestApp::spawn().await;
    let (c, _) = app.client_as(Kind::Admin).await;
    let anna = app.create_user("anna@rowing.test", &[], false).await;
    app.create_user("ben@rowing.test", &[], false).await;

    let res = app
        .post_form(
            &c,
            "/admin/workspaces",
            &[
                ("name", "Rowing club"),
                ("slug", "Bad Slug"),
                ("description", ""),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = res.text().await.unwrap();
    assert!(select_text(&page, ".form-error")[0].contains("lower-case"));
    assert!(
        page.contains("value=\"Rowing club\""),
        "the form keeps its input"
    );
    let res = app
        .post_form(
            &c,
            "/admin/workspaces",
            &[
                ("name", "Rowing club"),
                ("slug", "rowing"),
                ("description", "On the Loire"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let at = crate::harness::location(&res);
    let id: i64 = at.rsplit('/').next().unwrap().parse().unwrap();

    // Members by email; a legacy role is converted.
    let members = format!("/admin/workspaces/{id}/members");
    let res = app
        .post_form(
            &c,
            &members,
            &[("email", "ANNA@rowing.test"), ("role", "owner")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let res = app
        .post_form(
            &c,
            &members,
            &[("email", "nobody@rowing.test"), ("role", "MEMBER")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = app
        .post_form(
            &c,
            &members,
            &[("email", "ben@rowing.test"), ("role", "ADMIN")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(select_text(&res.text().await.unwrap(), ".form-error")[0].contains("Unknown role"));
    let res = app
        .post_form(
            &c,
            &members,
            &[("email", "ben@rowing.test"), ("role", "VIEWER")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    // The only manager stays.
    let res = app
        .post_form(&c, &format!("{members}/{}/remove", anna.id), &[])
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(select_text(&res.text().await.unwrap(), ".form-error")[0].contains("active manager"));

    let page = app
        .get(&c, &format!("/admin/workspaces/{id}"))
        .await
        .text()
        .await
        .unwrap();
    let rows = select_text(&page, "#member-rows tbody tr");
    assert_eq!(rows.len(), 2);
    assert!(
        rows[0].contains("anna@rowing.test"),
        "managers first: {rows:?}"
    );
    let history = select_text(&page, "#workspace-history tbody tr");
    assert_eq!(history.len(), 3, "{history:?}");

    // The user page lists the user's workspaces, linked, with the role.
    let user_page = app
        .get(&c, &format!("/admin/users/{}", anna.id))
        .await
        .text()
        .await
        .unwrap();
    let held = select_text(&user_page, "#section-workspaces tbody tr");
    assert!(
        held.iter()
            .any(|r| r.contains("Rowing club") && r.contains("Manager")),
        "{held:?}"
    );
    assert!(user_page.contains(&format!("href=\"/admin/workspaces/{id}\"")));

    // The list counts members and managers.
    let list = app.get(&c, "/admin/workspaces").await.text().await.unwrap();
    let row = select_text(&list, &format!("#workspace-rows tr[data-id=\"{id}\"] td"));
    assert_eq!((row[2].trim(), row[3].trim()), ("2", "1"), "{row:?}");
    let found = app
        .get(&c, "/admin/workspaces?q=ROWING")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(select_text(&found, "#workspace-rows tbody tr").len(), 1);

    // BASE offers no rename, archive or delete; a refused attempt says why.
    let base = app
        .get(&c, "/admin/workspaces/1")
        .await
        .text()
        .await
        .unwrap();
    assert!(!base.contains("/admin/workspaces/1/delete"));
    let res = app.post_form(&c, "/admin/workspaces/1/delete", &[]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // A tester reads, without the forms.
    let (t, _) = app.client_as(Kind::Tester).await;
    let seen = app
        .get(&t, &format!("/admin/workspaces/{id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(seen.contains("anna@rowing.test") && !seen.contains("member-add"));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_users_list_filters_by_workspace() {
    let app = TestApp::spawn().await;
    let (c, _) = app.client_as(Kind::Support).await;
    let a = app.create_user("ann@rowing.test", &[], false).await;
    let b = app.create_user("bob@rowing.test", &[], false).await;
    app.create_user("cid@elsewhere.test", &[], false).await;
    workspace(&app, "rowing", &[a.id], &[b.id]).await;
    let html = app
        .get(&c, "/admin/users?workspace=rowing")
        .await
        .text()
        .await
        .unwrap();
    let mut emails = select_text(&html, "#user-rows tr[data-id] td.col-email");
    emails.sort();
    assert_eq!(emails, ["ann@rowing.test", "bob@rowing.test"]);
    // Combined with the other filters, and kept by the pager's links.
    let html = app
        .get(&c, "/admin/users?workspace=rowing&q=bob")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(
        select_text(&html, "#user-rows tr[data-id] td.col-email"),
        ["bob@rowing.test"]
    );
    // A workspace that does not exist has no members.
    let html = app
        .get(&c, "/admin/users?workspace=nowhere")
        .await
        .text()
        .await
        .unwrap();
    assert!(select_text(&html, "#user-rows tr[data-id] td.col-email").is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_large_workspace_pages_its_members_both_ways() {
    use sowat_admin::db::types::{UserStatus, UserType};
    use sowat_admin::user_record::model::NewUser;
    let app = TestApp::spawn().await;
    let (c, _) = app.client_as(Kind::Admin).await;
    let now = app.clock.now_primitive();
    let mut ids = Vec::new();
    {
        let mut db = app.db().await;
        for i in 0..250 {
            let email = format!("m{i:03}@big.test");
            let new = NewUser::new(&email, "", "", UserType::External, UserStatus::Active, now);
            let id: i64 = db_run!(&mut db, |c| diesel::insert_into(users::table)
                .values(&new)
                .returning(users::id)
                .get_result(c)
                .await)
            .unwrap();
            ids.push(id);
        }
    }
    let ws = workspace(&app, "big", &ids[..3], &ids[3..]).await;
    let base = format!("/admin/workspaces/{ws}");
    let mut seen = Vec::new();
    let mut path = base.clone();
    let mut pages = Vec::new();
    loop {
        let html = app.get(&c, &path).await.text().await.unwrap();
        assert!(html.contains("(250)"), "the total is every member");
        let page: Vec<String> = select_text(&html, "#member-rows tr[data-id] .muted");
        assert!(page.len() <= 100);
        seen.extend(page.clone());
        pages.push((path.clone(), page));
        match crate::harness::select_attr(&html, "#next-page", "href") {
            Some(next) => path = next.replace("&amp;", "&").replace("&#38;", "&"),
            None => break,
        }
    }
    assert_eq!(pages.len(), 3);
    assert_eq!(seen.len(), 250);
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 250, "no member twice");
    // Managers first.
    assert!(
        pages[0].1[..3]
            .iter()
            .all(|e| ["m000@big.test", "m001@big.test", "m002@big.test"].contains(&e.as_str()))
    );
    // Back from the last page: the middle page again, whole.
    let html = app.get(&c, &pages[2].0).await.text().await.unwrap();
    let prev = crate::harness::select_attr(&html, "#prev-page", "href").unwrap();
    let html = app
        .get(&c, &prev.replace("&amp;", "&").replace("&#38;", "&"))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(
        select_text(&html, "#member-rows tr[data-id] .muted"),
        pages[1].1
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_workspace_list_sorts_by_name_or_age_and_pages_both_ways() {
    let app = TestApp::spawn().await;
    let (c, _) = app.client_as(Kind::Tester).await;
    for i in 0..60 {
        // Names in the reverse order of age, so the two orders differ.
        workspace(&app, &format!("w{:02}", 59 - i), &[], &[]).await;
        app.clock.advance(time::Duration::seconds(1));
    }
    let ids =
        |html: &str| crate::harness::select_attrs(html, "#workspace-rows tr[data-id]", "data-id");
    let newest = app
        .get(&c, "/admin/workspaces?sort=-created")
        .await
        .text()
        .await
        .unwrap();
    let first = ids(&newest);
    assert_eq!(first.len(), 50);
    let names = select_text(&newest, "#workspace-rows tr[data-id] td:nth-child(2)");
    assert_eq!(names[0], "w00", "the newest first: {names:?}");
    let next = crate::harness::select_attr(&newest, "#next-page", "href")
        .unwrap()
        .replace("&amp;", "&");
    assert!(next.contains("sort=-created"));
    let page2 = app.get(&c, &next).await.text().await.unwrap();
    let second = ids(&page2);
    // 60 workspaces and BASE (the oldest).
    assert_eq!(second.len(), 11);
    assert!(second.iter().all(|i| !first.contains(i)));
    let prev = crate::harness::select_attr(&page2, "#prev-page", "href")
        .unwrap()
        .replace("&amp;", "&");
    assert_eq!(ids(&app.get(&c, &prev).await.text().await.unwrap()), first);
    let by_name = app.get(&c, "/admin/workspaces").await.text().await.unwrap();
    assert_eq!(
        select_text(&by_name, "#workspace-rows tr[data-id] td:nth-child(2)")[..2],
        ["base".to_owned(), "w00".to_owned()]
    );
}

/// The counts each workspace carries against the memberships themselves.
async fn counts_agree(app: &TestApp, ids: &[i64]) -> Vec<(i64, i64)> {
    let mut db = app.db().await;
    let mut out = Vec::new();
    for &id in ids {
        let carried: (i64, i64) = db_run!(&mut db, |c| workspaces::table
            .find(id)
            .select((workspaces::member_count, workspaces::manager_count))
            .first(c)
            .await)
        .unwrap();
        let roles: Vec<String> = db_run!(&mut db, |c| workspace_members::table
            .filter(workspace_members::workspace_id.eq(id))
            .select(workspace_members::role)
            .load(c)
            .await)
        .unwrap();
        let counted = (
            roles.len() as i64,
            roles.iter().filter(|r| *r == "MANAGER").count() as i64,
        );
        assert_eq!(carried, counted, "workspace {id}");
        out.push(carried);
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn member_counts_follow_every_change_of_the_memberships() {
    let app = TestApp::spawn().await;
    let a = app.create_user("a@count.test", &[], false).await.id;
    let b = app.create_user("b@count.test", &[], false).await.id;
    let c = app.create_user("c@count.test", &[], false).await.id;
    let one = workspace(&app, "count-one", &[a], &[b, c]).await;
    let two = workspace(&app, "count-two", &[b], &[]).await;
    assert_eq!(counts_agree(&app, &[one, two]).await, [(3, 1), (1, 1)]);

    let mut db = app.db().await;
    // A role change: one more manager, as many members.
    db_run!(&mut db, |cn| diesel::update(
        workspace_members::table
            .filter(workspace_members::workspace_id.eq(one))
            .filter(workspace_members::user_id.eq(b))
    )
    .set(workspace_members::role.eq("MANAGER"))
    .execute(cn)
    .await)
    .unwrap();
    assert_eq!(counts_agree(&app, &[one, two]).await, [(3, 2), (1, 1)]);
    // A membership moved from one workspace to the other.
    db_run!(&mut db, |cn| diesel::update(
        workspace_members::table
            .filter(workspace_members::workspace_id.eq(one))
            .filter(workspace_members::user_id.eq(c))
    )
    .set(workspace_members::workspace_id.eq(two))
    .execute(cn)
    .await)
    .unwrap();
    assert_eq!(counts_agree(&app, &[one, two]).await, [(2, 2), (2, 1)]);
    // A removal.
    db_run!(&mut db, |cn| diesel::delete(
        workspace_members::table
            .filter(workspace_members::workspace_id.eq(one))
            .filter(workspace_members::user_id.eq(a))
    )
    .execute(cn)
    .await)
    .unwrap();
    assert_eq!(counts_agree(&app, &[one, two]).await, [(1, 1), (2, 1)]);
    // A user's row removed: their memberships go by cascade, counted.
    db_run!(&mut db, |cn| diesel::delete(users::table.find(b))
        .execute(cn)
        .await)
    .unwrap();
    assert_eq!(counts_agree(&app, &[one, two]).await, [(0, 0), (1, 0)]);
}
