//! The governance matrix of seed 002 (Mission 7), generated: every actor ×
//! {BASE, an ordinary workspace, an archived one} × every operation, each
//! with the answer the rules below expect, through the HTML routes and
//! through the API. The rules are written here from the governance
//! document, not read from the product's access code.
//!
//! "Allowed" means the access check let the request through: the change
//! itself may still be refused for what it is (renaming BASE, changing an
//! archived workspace: 422), which is not an access decision.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};
use sowat_admin::access::Scope;
use sowat_admin::db::schema::{audit_events, workspace_members, workspaces};
use sowat_admin::db::types::WorkspaceRole;
use sowat_admin::db_run;

use crate::api::make_key;
use crate::harness::{TestApp, TestUser, location};
use crate::workspaces::workspace;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    Admin,
    TesterNoRole,
    TesterMember,
    TesterManager,
    ManagerHere,
    ManagerElsewhere,
    Member,
    NoRole,
    Anonymous,
    KeyScoped,
    KeyUnscoped,
}

const PEOPLE: [Who; 9] = [
    Who::Admin,
    Who::TesterNoRole,
    Who::TesterMember,
    Who::TesterManager,
    Who::ManagerHere,
    Who::ManagerElsewhere,
    Who::Member,
    Who::NoRole,
    Who::Anonymous,
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ws {
    Base,
    Ordinary,
    Archived,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    List,
    Read,
    EditSettings,
    AddMember,
    ChangeRole,
    RemoveMember,
    Rename,
    Duplicate,
    Archive,
    Delete,
}

/// In this order: the destructive ones last, so each fixture lives to the end.
const OPS: [Op; 10] = [
    Op::List,
    Op::Read,
    Op::EditSettings,
    Op::AddMember,
    Op::ChangeRole,
    Op::RemoveMember,
    Op::Rename,
    Op::Duplicate,
    Op::Archive,
    Op::Delete,
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Seen {
    Allowed,
    Denied,
    SignIn,
    NoKey,
}

/// The governance rules, from seed 002 and the issue.
fn expected(who: Who, ws: Ws, op: Op, api: bool) -> Seen {
    use Seen::*;
    let members_or_settings = matches!(
        op,
        Op::EditSettings | Op::AddMember | Op::ChangeRole | Op::RemoveMember
    );
    let reads = matches!(op, Op::List | Op::Read);
    let allow = |b: bool| if b { Allowed } else { Denied };
    match who {
        Who::Anonymous if api => NoKey,
        Who::Anonymous => SignIn,
        // Administrators do everything, BASE included.
        Who::Admin => Allowed,
        // A key with the workspace scopes governs every workspace but BASE.
        Who::KeyScoped => allow(reads || ws != Ws::Base),
        Who::KeyUnscoped => Denied,
        // Testers list and read everything, act only where a workspace
        // role grants it, never on BASE.
        Who::TesterNoRole | Who::TesterMember => allow(reads),
        Who::TesterManager => allow(reads || (members_or_settings && ws != Ws::Base)),
        // Managers: their workspaces' members and settings, not BASE's;
        // no list of every workspace, no renaming, archiving, deleting.
        Who::ManagerHere => allow(op == Op::Read || (members_or_settings && ws != Ws::Base)),
        Who::ManagerElsewhere | Who::NoRole => Denied,
        Who::Member => allow(op == Op::Read),
    }
}

/// One actor's world: the fixtures it acts on, and who it is.
struct Fixture {
    ids: [(Ws, i64, String); 3],
    /// A plain member of each fixture, whose role is changed and who is removed.
    target: i64,
    /// A user in none of them, added by the "add member" operation.
    newcomer: TestUser,
}

async fn make_fixture(app: &TestApp, tag: &str, actor: Option<(i64, Who)>) -> Fixture {
    let manager = app
        .create_user(&format!("mgr-{tag}@gov.test"), &[], false)
        .await;
    let target = app
        .create_user(&format!("target-{tag}@gov.test"), &[], false)
        .await;
    let newcomer = app
        .create_user(&format!("new-{tag}@gov.test"), &[], false)
        .await;
    let ordinary = workspace(app, &format!("ord-{tag}"), &[manager.id], &[target.id]).await;
    let archived = workspace(app, &format!("arc-{tag}"), &[manager.id], &[target.id]).await;
    let mut db = app.db().await;
    let now = app.clock.now_primitive();
    db_run!(&mut db, |c| diesel::update(
        workspaces::table.find(archived)
    )
    .set(workspaces::archived_at.eq(Some(now)))
    .execute(c)
    .await)
    .unwrap();
    let base: i64 = db_run!(&mut db, |c| workspaces::table
        .filter(workspaces::is_base.eq(true))
        .select(workspaces::id)
        .first(c)
        .await)
    .unwrap();
    let mut joins = vec![(base, target.id, WorkspaceRole::Member)];
    if let Some((user, who)) = actor {
        let role = match who {
            Who::TesterMember | Who::Member => Some(WorkspaceRole::Member),
            Who::TesterManager | Who::ManagerHere => Some(WorkspaceRole::Manager),
            _ => None,
        };
        if let Some(role) = role {
            for ws in [base, ordinary, archived] {
                joins.push((ws, user, role));
            }
        }
        if who == Who::ManagerElsewhere {
            workspace(app, &format!("elsewhere-{tag}"), &[user], &[]).await;
        }
    }
    for (ws, user, role) in joins {
        db_run!(&mut db, |c| diesel::insert_into(workspace_members::table)
            .values((
                workspace_members::workspace_id.eq(ws),
                workspace_members::user_id.eq(user),
                workspace_members::role.eq(role.as_str()),
                workspace_members::created_at.eq(now),
            ))
            .execute(c)
            .await)
        .unwrap();
    }
    Fixture {
        ids: [
            (Ws::Base, base, "base".into()),
            (Ws::Ordinary, ordinary, format!("ord-{tag}")),
            (Ws::Archived, archived, format!("arc-{tag}")),
        ],
        target: target.id,
        newcomer,
    }
}

async fn person(app: &TestApp, who: Who, tag: &str) -> Option<TestUser> {
    let email = format!("{tag}@gov.test");
    match who {
        Who::Anonymous | Who::KeyScoped | Who::KeyUnscoped => None,
        Who::Admin => Some(app.create_user(&email, &["admin"], true).await),
        Who::TesterNoRole | Who::TesterMember | Who::TesterManager => {
            Some(app.create_user(&email, &["tester"], true).await)
        }
        _ => Some(app.create_user(&email, &[], false).await),
    }
}

/// The HTML request for `op` on workspace (`id`, `slug`).
fn html_request(
    op: Op,
    id: i64,
    slug: &str,
    f: &Fixture,
    n: usize,
) -> (Method, String, Vec<(String, String)>) {
    let t = f.target;
    let form = |pairs: &[(&str, String)]| {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect::<Vec<_>>()
    };
    match op {
        Op::List => (Method::GET, "/admin/workspaces".into(), vec![]),
        Op::Read => (Method::GET, format!("/workspaces/{slug}/members"), vec![]),
        Op::EditSettings => (
            Method::POST,
            format!("/workspaces/{slug}/settings"),
            form(&[("description", "Edited".into())]),
        ),
        Op::AddMember => (
            Method::POST,
            format!("/workspaces/{slug}/members"),
            form(&[
                ("email", f.newcomer.email.clone()),
                ("role", "MEMBER".into()),
            ]),
        ),
        Op::ChangeRole => (
            Method::POST,
            format!("/workspaces/{slug}/members/{t}/role"),
            form(&[("role", "MANAGER".into())]),
        ),
        Op::RemoveMember => (
            Method::POST,
            format!("/workspaces/{slug}/members/{t}/remove"),
            vec![],
        ),
        Op::Rename => (
            Method::POST,
            format!("/admin/workspaces/{id}/rename"),
            form(&[("name", "Renamed".into())]),
        ),
        Op::Duplicate => (
            Method::POST,
            format!("/admin/workspaces/{id}/duplicate"),
            form(&[("slug", format!("copy-{id}-{n}")), ("name", "Copy".into())]),
        ),
        Op::Archive => (
            Method::POST,
            format!("/admin/workspaces/{id}/archive"),
            vec![],
        ),
        Op::Delete => (
            Method::POST,
            format!("/admin/workspaces/{id}/delete"),
            vec![],
        ),
    }
}

/// The API request for `op` (none for duplication, which the API does not offer).
fn api_request(op: Op, id: i64, f: &Fixture) -> Option<(Method, String, Option<Value>)> {
    let t = f.target;
    let n = f.newcomer.id;
    let base = format!("/api/v1/workspaces/{id}");
    Some(match op {
        Op::List => (Method::GET, "/api/v1/workspaces".into(), None),
        Op::Read => (Method::GET, base, None),
        Op::EditSettings => (
            Method::PATCH,
            base,
            Some(json!({"settings": {"description": "Edited"}})),
        ),
        Op::AddMember => (
            Method::PUT,
            format!("{base}/members/{n}"),
            Some(json!({"role": "MEMBER"})),
        ),
        Op::ChangeRole => (
            Method::PUT,
            format!("{base}/members/{t}"),
            Some(json!({"role": "MANAGER"})),
        ),
        Op::RemoveMember => (Method::DELETE, format!("{base}/members/{t}"), None),
        Op::Rename => (Method::PATCH, base, Some(json!({"name": "Renamed"}))),
        Op::Duplicate => return None,
        Op::Archive => (Method::PATCH, base, Some(json!({"archived": true}))),
        Op::Delete => (Method::DELETE, base, None),
    })
}

fn classify_html(res: &reqwest::Response) -> Seen {
    if res.status() == StatusCode::FORBIDDEN {
        Seen::Denied
    } else if res.status() == StatusCode::SEE_OTHER && location(res).starts_with("/login?next=") {
        Seen::SignIn
    } else {
        Seen::Allowed
    }
}

fn classify_api(status: StatusCode) -> Seen {
    match status {
        StatusCode::FORBIDDEN => Seen::Denied,
        StatusCode::UNAUTHORIZED => Seen::NoKey,
        _ => Seen::Allowed,
    }
}

async fn denials_with_workspace(app: &TestApp) -> i64 {
    let mut db = app.db().await;
    db_run!(&mut db, |c| audit_events::table
        .filter(audit_events::outcome.eq("denied"))
        .filter(audit_events::workspace_id.is_not_null())
        .count()
        .get_result(c)
        .await)
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_governance_matrix_through_the_screens() {
    let app = TestApp::spawn().await;
    let mut failures = Vec::new();
    let mut denials = 0;
    for (i, who) in PEOPLE.into_iter().enumerate() {
        let tag = format!("h{i}");
        let user = person(&app, who, &tag).await;
        let fixture = make_fixture(&app, &tag, user.as_ref().map(|u| (u.id, who))).await;
        let client: Client = app.client();
        if let Some(u) = &user {
            app.sign_in(&client, u).await;
        }
        for (ws, id, slug) in &fixture.ids {
            for (n, op) in OPS.into_iter().enumerate() {
                let (method, path, fields) = html_request(op, *id, slug, &fixture, n);
                let res = if method == Method::GET {
                    app.get(&client, &path).await
                } else {
                    let pairs: Vec<(&str, &str)> = fields
                        .iter()
                        .map(|(k, v)| (k.as_str(), v.as_str()))
                        .collect();
                    app.post_form(&client, &path, &pairs).await
                };
                if res.status().is_server_error() || res.status() == StatusCode::NOT_FOUND {
                    failures.push(format!("{who:?} {ws:?} {op:?}: {} on {path}", res.status()));
                    continue;
                }
                let seen = classify_html(&res);
                if seen == Seen::Denied {
                    denials += 1;
                }
                let want = expected(who, *ws, op, false);
                if seen != want {
                    failures.push(format!(
                        "{who:?} {ws:?} {op:?}: expected {want:?}, got {seen:?} ({} on {path})",
                        res.status()
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "governance matrix (screens):\n{}",
        failures.join("\n")
    );
    // Denials inside a workspace are audited with its id (those on the
    // list of every workspace name none).
    assert!(denials > 0);
    assert!(denials_with_workspace(&app).await > 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_governance_matrix_through_the_api() {
    let app = TestApp::spawn().await;
    let (_, full) = make_key(
        &app,
        &[Scope::WorkspacesRead, Scope::WorkspacesWrite],
        100_000,
        10_000_000,
    )
    .await;
    let (_, unscoped) = make_key(&app, &[Scope::UsersRead], 100_000, 10_000_000).await;
    let actors = PEOPLE.into_iter().chain([Who::KeyScoped, Who::KeyUnscoped]);
    let http = Client::new();
    let mut failures = Vec::new();
    for (i, who) in actors.enumerate() {
        let tag = format!("a{i}");
        let user = person(&app, who, &tag).await;
        let fixture = make_fixture(&app, &tag, user.as_ref().map(|u| (u.id, who))).await;
        for (ws, id, _) in &fixture.ids {
            for op in OPS {
                let Some((method, path, body)) = api_request(op, *id, &fixture) else {
                    continue;
                };
                let mut req = http
                    .request(method.clone(), app.url(&path))
                    .header("x-workspace-id", id.to_string());
                req = match who {
                    Who::Anonymous => req,
                    Who::KeyUnscoped => req.bearer_auth(&unscoped),
                    _ => req.bearer_auth(&full),
                };
                if let Some(u) = &user {
                    req = req.header("x-on-behalf-of", u.id.to_string());
                }
                if let Some(b) = body {
                    req = req.json(&b);
                }
                let res = req.send().await.unwrap();
                let status = res.status();
                let answer: Value = res.json().await.unwrap_or(Value::Null);
                if status.is_server_error() || status == StatusCode::BAD_REQUEST {
                    failures.push(format!("{who:?} {ws:?} {op:?}: {status} {answer}"));
                    continue;
                }
                let seen = classify_api(status);
                let want = expected(who, *ws, op, true);
                if seen != want {
                    failures.push(format!("{who:?} {ws:?} {op:?}: expected {want:?}, got {seen:?} ({status} {method} {path} {answer})"));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "governance matrix (API):\n{}",
        failures.join("\n")
    );
    assert!(denials_with_workspace(&app).await > 0);
}

async fn api(
    app: &TestApp,
    secret: &str,
    method: Method,
    path: &str,
    headers: &[(&str, String)],
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = Client::new()
        .request(method, app.url(path))
        .bearer_auth(secret);
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_workspace_header_and_legacy_roles_through_the_api() {
    let app = TestApp::spawn().await;
    let (_, key) = make_key(
        &app,
        &[Scope::WorkspacesRead, Scope::WorkspacesWrite],
        100_000,
        10_000_000,
    )
    .await;
    let manager = app.create_user("boss@club.test", &[], false).await;
    let outsider = app.create_user("outsider@club.test", &[], false).await;
    let joiner = app.create_user("joiner@club.test", &[], false).await;
    let club = workspace(&app, "club", &[manager.id], &[]).await;
    let path = format!("/api/v1/workspaces/{club}/members");
    let ws = |id: i64| ("x-workspace-id", id.to_string());

    // Missing, not the path's: 400 with their codes; unknown: 403.
    let (s, b) = api(&app, &key, Method::GET, &path, &[], None).await;
    assert_eq!(
        (s, code(&b)),
        (StatusCode::BAD_REQUEST, "workspace_required")
    );
    let (s, b) = api(&app, &key, Method::GET, &path, &[ws(club + 1)], None).await;
    assert_eq!(
        (s, code(&b)),
        (StatusCode::BAD_REQUEST, "workspace_mismatch")
    );
    let (s, b) = api(
        &app,
        &key,
        Method::GET,
        "/api/v1/workspaces/99999/members",
        &[ws(99999)],
        None,
    )
    .await;
    assert_eq!(
        (s, code(&b)),
        (StatusCode::FORBIDDEN, "workspace_forbidden")
    );
    // On behalf of a user who is not a member: 403, audited with the workspace.
    let on_behalf = |u: &TestUser| ("x-on-behalf-of", u.id.to_string());
    let (s, b) = api(
        &app,
        &key,
        Method::GET,
        &path,
        &[ws(club), on_behalf(&outsider)],
        None,
    )
    .await;
    assert_eq!(
        (s, code(&b)),
        (StatusCode::FORBIDDEN, "workspace_forbidden")
    );
    let (s, b) = api(
        &app,
        &key,
        Method::GET,
        &path,
        &[ws(club), ("x-on-behalf-of", "someone".into())],
        None,
    )
    .await;
    assert_eq!(
        (s, code(&b)),
        (StatusCode::BAD_REQUEST, "on_behalf_invalid")
    );
    assert!(denials_with_workspace(&app).await >= 1);

    // Legacy roles are converted and reported; others refused by name.
    let member = format!("{path}/{}", joiner.id);
    let (s, b) = api(
        &app,
        &key,
        Method::PUT,
        &member,
        &[ws(club)],
        Some(json!({"role": "owner"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        (
            b["role"].as_str(),
            b["legacy_role"].as_str(),
            b["result"].as_str()
        ),
        (Some("MANAGER"), Some("OWNER"), Some("added"))
    );
    let (s, b) = api(
        &app,
        &key,
        Method::PUT,
        &member,
        &[ws(club)],
        Some(json!({"role": " Viewer "})),
    )
    .await;
    assert_eq!(
        (
            b["role"].as_str(),
            b["legacy_role"].as_str(),
            b["result"].as_str()
        ),
        (Some("MEMBER"), Some("VIEWER"), Some("changed")),
        "{s} {b}"
    );
    let (s, b) = api(
        &app,
        &key,
        Method::PUT,
        &member,
        &[ws(club)],
        Some(json!({"role": "MEMBER"})),
    )
    .await;
    assert_eq!(
        (s, b["result"].as_str(), b["legacy_role"].clone()),
        (StatusCode::OK, Some("unchanged"), Value::Null)
    );
    let (s, b) = api(
        &app,
        &key,
        Method::PUT,
        &member,
        &[ws(club)],
        Some(json!({"role": "ADMIN"})),
    )
    .await;
    assert_eq!(
        (s, code(&b)),
        (StatusCode::UNPROCESSABLE_ENTITY, "role_unknown")
    );
    assert!(b["error"]["message"].as_str().unwrap().contains("ADMIN"));

    // The last manager stays: a refusal with its own code.
    let (s, b) = api(
        &app,
        &key,
        Method::PUT,
        &format!("{path}/{}", manager.id),
        &[ws(club)],
        Some(json!({"role": "MEMBER"})),
    )
    .await;
    assert_eq!(
        (s, code(&b)),
        (StatusCode::CONFLICT, "workspaces.last_manager")
    );

    // A manager acting through the main app: their members with addresses.
    let (s, b) = api(
        &app,
        &key,
        Method::GET,
        &path,
        &[ws(club), on_behalf(&manager)],
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        b["members"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["email"].is_string())
    );
    // Every change is audited with the workspace and names key and user.
    let mut db = app.db().await;
    let labels: Vec<String> = db_run!(&mut db, |c| audit_events::table
        .filter(audit_events::workspace_id.eq(club))
        .filter(audit_events::action.like("workspace.member%"))
        .select(audit_events::actor_label)
        .load(c)
        .await)
    .unwrap();
    assert_eq!(labels.len(), 2, "added, role changed: {labels:?}");
    assert!(labels.iter().all(|l| l.starts_with("key:")));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_member_list_through_the_api_continues_by_cursor() {
    let app = TestApp::spawn().await;
    let (_, key) = make_key(&app, &[Scope::WorkspacesRead], 100_000, 10_000_000).await;
    let mut managers = Vec::new();
    let mut members = Vec::new();
    for i in 0..3 {
        managers.push(
            app.create_user(&format!("m{i}@page.test"), &[], false)
                .await
                .id,
        );
    }
    for i in 0..5 {
        members.push(
            app.create_user(&format!("u{i}@page.test"), &[], false)
                .await
                .id,
        );
    }
    let club = workspace(&app, "paged", &managers, &members).await;
    let path = format!("/api/v1/workspaces/{club}/members");
    let ws = [("x-workspace-id", club.to_string())];

    // Pages of 3: managers first, then members, each by id, once each.
    let mut seen: Vec<(String, i64)> = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let url = match &cursor {
            None => format!("{path}?limit=3"),
            Some(c) => format!("{path}?limit=3&cursor={c}"),
        };
        let (s, b) = api(&app, &key, Method::GET, &url, &ws, None).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        pages += 1;
        for m in b["members"].as_array().unwrap() {
            seen.push((
                m["role"].as_str().unwrap().to_string(),
                m["user_id"].as_i64().unwrap(),
            ));
        }
        assert_eq!(b["truncated"].as_bool(), Some(b["next_cursor"].is_string()));
        match b["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
        assert!(pages < 10, "the cursor does not move on: {b}");
    }
    let mut expected: Vec<(String, i64)> = managers
        .iter()
        .map(|id| ("MANAGER".to_string(), *id))
        .chain(members.iter().map(|id| ("MEMBER".to_string(), *id)))
        .collect();
    expected.sort();
    assert_eq!(seen, expected);
    assert_eq!(pages, 3);

    // The whole list at once by default: no cursor to follow.
    let (_, b) = api(&app, &key, Method::GET, &path, &ws, None).await;
    assert_eq!(b["members"].as_array().unwrap().len(), 8);
    assert_eq!(b["next_cursor"], Value::Null);

    // A cursor the list did not give, a bad limit, an unknown parameter: 422.
    for bad in [
        "cursor=OWNER.3",
        "cursor=MEMBER.0",
        "cursor=MEMBER.007",
        "cursor=MEMBER.%2B7",
        "cursor=MEMBER",
        "limit=0",
        "limit=501",
        "limit=ten",
        "page=2",
    ] {
        let (s, b) = api(&app, &key, Method::GET, &format!("{path}?{bad}"), &ws, None).await;
        assert_eq!(
            (s, code(&b)),
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid_request"),
            "{bad}: {b}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn two_managers_demoting_each_other_at_once_leave_one() {
    let app = TestApp::spawn().await;
    let (_, key) = make_key(&app, &[Scope::WorkspacesWrite], 100_000, 10_000_000).await;
    for round in 0..5 {
        let a = app
            .create_user(&format!("a{round}@race.test"), &[], false)
            .await;
        let b = app
            .create_user(&format!("b{round}@race.test"), &[], false)
            .await;
        let club = workspace(&app, &format!("race-{round}"), &[a.id, b.id], &[]).await;
        let demote = |u: i64| {
            let (app, key) = (&app, key.clone());
            async move {
                api(
                    app,
                    &key,
                    Method::PUT,
                    &format!("/api/v1/workspaces/{club}/members/{u}"),
                    &[("x-workspace-id", club.to_string())],
                    Some(json!({"role": "MEMBER"})),
                )
                .await
                .0
            }
        };
        let (x, y) = tokio::join!(demote(a.id), demote(b.id));
        let mut got = [x, y];
        got.sort();
        assert_eq!(got, [StatusCode::OK, StatusCode::CONFLICT], "round {round}");
        let mut db = app.db().await;
        let managers: i64 = db_run!(&mut db, |c| workspace_members::table
            .filter(workspace_members::workspace_id.eq(club))
            .filter(workspace_members::role.eq("MANAGER"))
            .count()
            .get_result(c)
            .await)
        .unwrap();
        assert_eq!(managers, 1);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_manager_sees_only_their_workspaces() {
    let app = TestApp::spawn().await;
    let manager = app.create_user("ours@club.test", &[], false).await;
    let mate = app.create_user("mate@club.test", &[], false).await;
    let stranger = app.create_user("stranger@other.test", &[], false).await;
    let ours = workspace(&app, "ours", &[manager.id], &[mate.id]).await;
    workspace(&app, "theirs", &[stranger.id], &[]).await;
    let client = app.client();
    app.sign_in(&client, &manager).await;

    // Home is the list of one's workspaces; no admin area.
    let res = app.get(&client, "/").await;
    assert_eq!(location(&res), "/workspaces");
    let html = app.get(&client, "/workspaces").await.text().await.unwrap();
    assert!(html.contains("Club ours") && !html.contains("Club theirs"));
    assert!(!html.contains("/admin/"), "no admin link for a manager");
    assert_eq!(
        app.get(&client, "/admin").await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.get(&client, "/admin/workspaces").await.status(),
        StatusCode::FORBIDDEN
    );
    let res = app.get(&client, "/workspaces/theirs/members").await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let html = res.text().await.unwrap();
    assert!(!html.contains("stranger@other.test"));
    let html = app
        .get(&client, "/workspaces/ours/members")
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("mate@club.test") && !html.contains("stranger@other.test"));

    // The manager changes the members and settings; all audited with the id.
    let res = app
        .post_form(
            &client,
            "/workspaces/ours/members",
            &[("email", "stranger@other.test"), ("role", "owner")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let res = app
        .post_form(
            &client,
            &format!("/workspaces/ours/members/{}/remove", manager.id),
            &[],
        )
        .await;
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "another manager now exists"
    );
    let mut db = app.db().await;
    let events: i64 = db_run!(&mut db, |c| audit_events::table
        .filter(audit_events::workspace_id.eq(ours))
        .filter(audit_events::outcome.eq("allowed"))
        .count()
        .get_result(c)
        .await)
    .unwrap();
    assert_eq!(events, 2);
    // No longer a member: the workspace is gone from their reach.
    assert_eq!(
        app.get(&client, "/workspaces/ours/members").await.status(),
        StatusCode::FORBIDDEN
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_workspace_can_require_its_managers_to_use_a_second_factor() {
    let app = TestApp::spawn().await;
    let manager = app.create_user("careful@club.test", &[], false).await;
    let member = app.create_user("relaxed@club.test", &[], false).await;
    workspace(&app, "careful", &[manager.id], &[member.id]).await;
    let (c_manager, c_member) = (app.client(), app.client());
    app.sign_in(&c_manager, &manager).await;
    app.sign_in(&c_member, &member).await;
    assert_eq!(
        app.get(&c_manager, "/workspaces/careful/settings")
            .await
            .status(),
        StatusCode::OK
    );
    let res = app
        .post_form(
            &c_manager,
            "/workspaces/careful/settings",
            &[("description", "Safe"), ("require_two_factor", "on")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    // From the next request the manager must enrol first; the member need not.
    let res = app.get(&c_manager, "/workspaces").await;
    assert_eq!(location(&res), "/account/totp");
    assert_eq!(
        app.get(&c_member, "/workspaces").await.status(),
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_manager_invites_someone_new() {
    let app = TestApp::spawn().await;
    let manager = app.create_user("host@club.test", &[], false).await;
    workspace(&app, "club", &[manager.id], &[]).await;
    let client = app.client();
    app.sign_in(&client, &manager).await;
    let res = app
        .post_form(
            &client,
            "/workspaces/club/invite",
            &[
                ("email", "Newbie@Club.test"),
                ("name", "New Bie"),
                ("role", "MEMBER"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let html = app
        .get(&client, "/workspaces/club/members")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("Invitation sent to Newbie@Club.test"),
        "{html}"
    );
    assert!(html.contains("New Bie"));
    // The mail with the link is queued; the events carry who did it.
    let sent = app.audit("user.invitation_sent").await;
    assert_eq!(sent.len(), 1);
    assert!(sent[0].1.contains("host@club.test"));
    let added = app.audit("workspace.member_added").await;
    assert!(added[0].2.contains("newbie@club.test") || added[0].2.contains("Newbie@Club.test"));
    // An address with an account already, or a bad one: said on the page.
    let res = app
        .post_form(
            &client,
            "/workspaces/club/invite",
            &[("email", "host@club.test"), ("role", "MEMBER")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains("already has an account"));
    let res = app
        .post_form(
            &client,
            "/workspaces/club/invite",
            &[("email", "not-an-address"), ("role", "MEMBER")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

/// The denied-accesses view groups the recent denials by actor, address
/// and route, with the counts.
#[tokio::test(flavor = "multi_thread")]
async fn denied_accesses_are_grouped_by_actor_address_and_route() {
    let app = crate::harness::TestApp::spawn().await;
    let (admin, _) = app.client_as(crate::harness::Kind::Admin).await;
    let (support, _) = app.client_as(crate::harness::Kind::Support).await;
    for _ in 0..3 {
        assert_eq!(app.get(&support, "/admin/users/new").await.status(), 403);
    }
    assert_eq!(app.get(&support, "/admin/api-keys").await.status(), 403);
    let html = app
        .get(&admin, "/admin/audit/denied")
        .await
        .text()
        .await
        .expect("body");
    let routes = crate::harness::select_text(&html, "#by-route tr");
    assert!(
        routes
            .iter()
            .any(|r| r.contains("GET /admin/users/new") && r.contains('3')),
        "{routes:?}"
    );
    let actors = crate::harness::select_text(&html, "#by-actor tr");
    assert!(
        <[String]>::first(&actors).is_some_and(|r| r.contains('4')),
        "{actors:?}"
    );
    let ips = crate::harness::select_text(&html, "#by-ip tr");
    assert!(ips.iter().any(|r| r.contains("127.0.0.1")), "{ips:?}");
}
