//! Every route of the router, for every kind of actor: the expected answer
//! is written here, independently of the access the route declares, and a
//! route without an entry fails the test.

use std::collections::HashMap;

use reqwest::{Method, StatusCode};
use sowat_admin::routes;

use crate::harness::{Kind, TestApp, location};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Seen {
    /// Reached the handler.
    Allowed,
    /// 403.
    Denied,
    /// Sent to sign in.
    SignIn,
    /// Sent to enrol a second factor first.
    Enroll,
    /// 401: the machine API wants a key, and a session is not one.
    NoKey,
}
use Seen::{Allowed as A, Denied as D, Enroll as E, NoKey as K, SignIn as L};

/// Expected outcome per actor, in the order of `Kind::ALL`:
/// admin, support, tester, analyst, manager, member, anonymous; then a
/// support agent (a platform role) who has not enrolled a second factor yet;
/// then a holder of the custom role "Billing desk" ([`BILLING_DESK`]), made
/// through the roles screen, who sees exactly what its permissions open.
fn expected() -> HashMap<(&'static str, &'static str), [Seen; 9]> {
    HashMap::from([
        (("GET", "/healthz"), [A, A, A, A, A, A, A, A, A]),
        (("GET", "/readyz"), [A, A, A, A, A, A, A, A, A]),
        (("GET", "/static/{*name}"), [A, A, A, A, A, A, A, A, A]),
        (("GET", "/"), [A, A, A, A, A, A, A, A, A]),
        (("POST", "/lang"), [A, A, A, A, A, A, A, A, A]),
        (("GET", "/login"), [A, A, A, A, A, A, A, A, A]),
        (("POST", "/login"), [A, A, A, A, A, A, A, A, A]),
        (("GET", "/login/totp"), [A, A, A, A, A, A, A, A, A]),
        (("POST", "/login/totp"), [A, A, A, A, A, A, A, A, A]),
        (("GET", "/setup/{token}"), [A, A, A, A, A, A, A, A, A]),
        (("POST", "/setup/{token}"), [A, A, A, A, A, A, A, A, A]),
        (("POST", "/logout"), [A, A, A, A, A, A, L, A, A]),
        (("GET", "/account/totp"), [A, A, A, A, A, A, L, A, A]),
        (("POST", "/account/totp"), [A, A, A, A, A, A, L, A, A]),
        (("GET", "/account/sessions"), [A, A, A, A, A, A, L, E, A]),
        (
            ("POST", "/account/sessions/{handle}/end"),
            [A, A, A, A, A, A, L, E, A],
        ),
        (
            ("POST", "/account/preferences"),
            [A, A, A, A, A, A, L, E, A],
        ),
        (("GET", "/account"), [A, A, A, A, A, A, L, E, A]),
        (("POST", "/account/password"), [A, A, A, A, A, A, L, E, A]),
        (
            ("POST", "/account/recovery-codes"),
            [A, A, A, A, A, A, L, E, A],
        ),
        (
            ("GET", "/account/recovery-codes"),
            [A, A, A, A, A, A, L, E, A],
        ),
        (
            ("POST", "/account/sessions/others/end"),
            [A, A, A, A, A, A, L, E, A],
        ),
        (("POST", "/account/totp/renew"), [A, A, A, A, A, A, L, E, A]),
        (("GET", "/admin"), [A, A, A, A, D, D, L, E, A]),
        (("GET", "/admin/audit"), [A, A, D, A, D, D, L, E, A]),
        (("GET", "/admin/audit/denied"), [A, A, D, A, D, D, L, E, A]),
        (("GET", "/admin/audit/{id}"), [A, A, D, A, D, D, L, E, A]),
        (("POST", "/admin/audit/export"), [A, D, D, A, D, D, L, E, D]),
        (("POST", "/admin/audit/digest"), [A, D, D, A, D, D, L, E, D]),
        (("POST", "/admin/audit/views"), [A, A, D, A, D, D, L, E, A]),
        (
            ("POST", "/admin/audit/views/{id}/delete"),
            [A, A, D, A, D, D, L, E, A],
        ),
        // Only roles.manage opens the roles (the custom role lacks it).
        (("GET", "/admin/roles"), [A, D, D, D, D, D, L, E, D]),
        (("GET", "/admin/roles/new"), [A, D, D, D, D, D, L, E, D]),
        (("POST", "/admin/roles"), [A, D, D, D, D, D, L, E, D]),
        (("GET", "/admin/roles/{id}"), [A, D, D, D, D, D, L, E, D]),
        (("POST", "/admin/roles/{id}"), [A, D, D, D, D, D, L, E, D]),
        (
            ("POST", "/admin/roles/{id}/delete"),
            [A, D, D, D, D, D, L, E, D],
        ),
        (("GET", "/reset/{token}"), [A, A, A, A, A, A, A, A, A]),
        (("POST", "/reset/{token}"), [A, A, A, A, A, A, A, A, A]),
        (("GET", "/admin/search"), [A, A, D, A, D, D, L, E, A]),
        (("GET", "/admin/users"), [A, A, D, A, D, D, L, E, A]),
        (("GET", "/admin/users/count"), [A, A, D, A, D, D, L, E, A]),
        (("GET", "/admin/users/new"), [A, D, D, D, D, D, L, E, D]),
        (("POST", "/admin/users"), [A, D, D, D, D, D, L, E, D]),
        (
            ("POST", "/admin/users/bulk/status"),
            [A, D, D, D, D, D, L, E, D],
        ),
        (
            ("POST", "/admin/users/bulk/export"),
            [A, D, D, A, D, D, L, E, D],
        ),
        (("GET", "/admin/users/{id}"), [A, A, D, A, D, D, L, E, A]),
        (
            ("GET", "/admin/users/{id}/history"),
            [A, A, D, A, D, D, L, E, A],
        ),
        (
            ("POST", "/admin/users/{id}/profile"),
            [A, D, D, D, D, D, L, E, D],
        ),
        (
            ("POST", "/admin/users/{id}/status"),
            [A, D, D, D, D, D, L, E, D],
        ),
        (
            ("POST", "/admin/users/{id}/roles"),
            [A, D, D, D, D, D, L, E, D],
        ),
        (
            ("POST", "/admin/users/{id}/notes"),
            [A, A, D, D, D, D, L, E, A],
        ),
        (
            ("POST", "/admin/users/{id}/reset-totp"),
            [A, D, D, D, D, D, L, E, D],
        ),
        (
            ("POST", "/admin/users/{id}/password-reset"),
            [A, A, D, D, D, D, L, E, D],
        ),
        (
            ("POST", "/admin/users/{id}/delete"),
            [A, D, D, D, D, D, L, E, D],
        ),
        (
            ("POST", "/admin/users/{id}/restore"),
            [A, D, D, D, D, D, L, E, D],
        ),
        (
            ("POST", "/admin/users/{id}/erase"),
            [A, D, D, D, D, D, L, E, D],
        ),
        (
            ("POST", "/admin/users/{id}/export"),
            [A, D, D, A, D, D, L, E, D],
        ),
        (("GET", "/admin/tasks"), [A, A, A, A, D, D, L, E, A]),
        (("GET", "/admin/tasks/{id}"), [A, A, A, A, D, D, L, E, A]),
        (
            ("POST", "/admin/tasks/{id}/cancel"),
            [A, A, A, A, D, D, L, E, A],
        ),
        (
            ("GET", "/admin/tasks/{id}/download"),
            [A, D, D, A, D, D, L, E, D],
        ),
        (("GET", "/admin/workspaces"), [A, A, A, A, D, D, L, E, D]),
        (
            ("GET", "/admin/workspaces/new"),
            [A, D, D, D, D, D, L, E, D],
        ),
        (("POST", "/admin/workspaces"), [A, D, D, D, D, D, L, E, D]),
        (
            ("GET", "/admin/workspaces/{id}"),
            [A, A, A, A, D, D, L, E, D],
        ),
        (
            ("POST", "/admin/workspaces/{id}/rename"),
            [A, D, D, D, D, D, L, E, D],
        ),
        (
            ("POST", "/admin/workspaces/{id}/settings"),
            [A, D, D, D, D, D, L, E, D],
        ),
        (
            ("POST", "/admin/workspaces/{id}/archive"),
            [A, D, D, D, D, D, L, E, D],
        ),
        (
            ("POST", "/admin/workspaces/{id}/restore"),
            [A, D, D, D, D, D, L, E, D],
        ),
        (
            ("POST", "/admin/workspaces/{id}/delete"),
            [A, D, D, D, D, D, L, E, D],
        ),
        (
            ("POST", "/admin/workspaces/{id}/members"),
            [A, D, D, D, D, D, L, E, D],
        ),
        (
            ("POST", "/admin/workspaces/{id}/members/{user_id}/role"),
            [A, D, D, D, D, D, L, E, D],
        ),
        (
            ("POST", "/admin/workspaces/{id}/members/{user_id}/remove"),
            [A, D, D, D, D, D, L, E, D],
        ),
        (
            ("POST", "/admin/workspaces/{id}/duplicate"),
            [A, D, D, D, D, D, L, E, D],
        ),
        // The managers' screens, in the workspace "club" (the manager's and
        // the member's): staff roles read every workspace, only its
        // managers (and administrators) change it.
        (("GET", "/workspaces"), [A, A, A, A, A, A, L, E, A]),
        (
            ("GET", "/workspaces/{slug}/members"),
            [A, A, A, A, A, A, L, E, D],
        ),
        (
            ("POST", "/workspaces/{slug}/members"),
            [A, D, D, D, A, D, L, E, D],
        ),
        (
            ("POST", "/workspaces/{slug}/members/{user_id}/role"),
            [A, D, D, D, A, D, L, E, D],
        ),
        (
            ("POST", "/workspaces/{slug}/members/{user_id}/remove"),
            [A, D, D, D, A, D, L, E, D],
        ),
        (
            ("POST", "/workspaces/{slug}/invite"),
            [A, D, D, D, A, D, L, E, D],
        ),
        (
            ("GET", "/workspaces/{slug}/settings"),
            [A, D, D, D, A, D, L, E, D],
        ),
        (
            ("POST", "/workspaces/{slug}/settings"),
            [A, D, D, D, A, D, L, E, D],
        ),
        (("GET", "/admin/api-keys"), [A, D, D, D, D, D, L, E, D]),
        (("GET", "/admin/api-keys/new"), [A, D, D, D, D, D, L, E, D]),
        (("POST", "/admin/api-keys"), [A, D, D, D, D, D, L, E, D]),
        (("GET", "/admin/api-keys/{id}"), [A, D, D, D, D, D, L, E, D]),
        (
            ("POST", "/admin/api-keys/{id}/rotate"),
            [A, D, D, D, D, D, L, E, D],
        ),
        (
            ("POST", "/admin/api-keys/{id}/revoke"),
            [A, D, D, D, D, D, L, E, D],
        ),
        // A session cookie is never a key (the key per scope is in api.rs).
        (("GET", "/api/v1/users"), [K, K, K, K, K, K, K, K, K]),
        (("GET", "/api/v1/users/{id}"), [K, K, K, K, K, K, K, K, K]),
        (
            ("GET", "/admin/users/{id}/usage"),
            [A, A, D, A, D, D, L, E, A],
        ),
        (
            ("POST", "/admin/users/{id}/overrides"),
            [A, D, D, D, D, D, L, E, D],
        ),
        (
            ("POST", "/admin/users/{id}/overrides/{override_id}/revoke"),
            [A, D, D, D, D, D, L, E, D],
        ),
        (
            ("POST", "/admin/users/{id}/plan"),
            [A, D, D, D, D, D, L, E, A],
        ),
        (("GET", "/admin/notifications"), [A, A, A, A, D, D, L, E, A]),
        (
            ("GET", "/admin/notifications/count"),
            [A, A, A, A, D, D, L, E, A],
        ),
        (
            ("POST", "/admin/notifications/read"),
            [A, A, A, A, D, D, L, E, A],
        ),
        (("GET", "/admin/usage/overage"), [A, A, D, A, D, D, L, E, A]),
        // Anyone may post to the webhook: the signature is the check (400 without one).
        (("POST", "/webhooks/stripe"), [A, A, A, A, A, A, A, A, A]),
        (
            ("GET", "/admin/users/{id}/billing"),
            [A, A, D, A, D, D, L, E, A],
        ),
        (
            ("GET", "/admin/users/{id}/billing/invoices"),
            [A, A, D, A, D, D, L, E, A],
        ),
        (
            ("POST", "/admin/users/{id}/billing/checkout"),
            [A, D, D, D, D, D, L, E, A],
        ),
        (
            ("POST", "/admin/users/{id}/billing/portal"),
            [A, D, D, D, D, D, L, E, A],
        ),
        (
            ("POST", "/admin/users/{id}/billing/preview"),
            [A, D, D, D, D, D, L, E, A],
        ),
        (
            ("POST", "/admin/users/{id}/billing/change"),
            [A, D, D, D, D, D, L, E, A],
        ),
        (
            ("POST", "/admin/users/{id}/billing/cancel"),
            [A, D, D, D, D, D, L, E, A],
        ),
        (
            ("POST", "/admin/users/{id}/billing/resume"),
            [A, D, D, D, D, D, L, E, A],
        ),
        (
            ("GET", "/admin/billing/events"),
            [A, A, D, A, D, D, L, E, A],
        ),
        (
            ("GET", "/admin/billing/events/{id}"),
            [A, A, D, A, D, D, L, E, A],
        ),
        (
            ("POST", "/admin/billing/events/{id}/reprocess"),
            [A, D, D, D, D, D, L, E, A],
        ),
        (
            ("POST", "/api/v1/billing/checkout"),
            [K, K, K, K, K, K, K, K, K],
        ),
        (
            ("POST", "/api/v1/billing/portal"),
            [K, K, K, K, K, K, K, K, K],
        ),
        (
            ("GET", "/admin/usage/overage.csv"),
            [A, A, D, A, D, D, L, E, A],
        ),
        (
            ("POST", "/admin/usage/overage/close"),
            [A, D, D, D, D, D, L, E, A],
        ),
        (("GET", "/admin/plans"), [A, A, D, A, D, D, L, E, A]),
        (("GET", "/admin/plans/new"), [A, D, D, D, D, D, L, E, A]),
        (("POST", "/admin/plans"), [A, D, D, D, D, D, L, E, A]),
        (("GET", "/admin/plans/{id}"), [A, A, D, A, D, D, L, E, A]),
        (("POST", "/admin/plans/{id}"), [A, D, D, D, D, D, L, E, A]),
        (
            ("POST", "/admin/plans/{id}/archive"),
            [A, D, D, D, D, D, L, E, A],
        ),
        (
            ("POST", "/admin/plans/{id}/restore"),
            [A, D, D, D, D, D, L, E, A],
        ),
        (
            ("POST", "/admin/plans/{id}/default"),
            [A, D, D, D, D, D, L, E, A],
        ),
        (
            ("POST", "/admin/plans/{id}/delete"),
            [A, D, D, D, D, D, L, E, A],
        ),
        (("POST", "/api/v1/users/sync"), [K, K, K, K, K, K, K, K, K]),
        (
            ("POST", "/api/v1/usage/consume"),
            [K, K, K, K, K, K, K, K, K],
        ),
        (("POST", "/api/v1/usage/check"), [K, K, K, K, K, K, K, K, K]),
        (
            ("GET", "/api/v1/usage/{user_id}"),
            [K, K, K, K, K, K, K, K, K],
        ),
        (("GET", "/api/v1/workspaces"), [K, K, K, K, K, K, K, K, K]),
        (("POST", "/api/v1/workspaces"), [K, K, K, K, K, K, K, K, K]),
        (
            ("GET", "/api/v1/workspaces/{id}"),
            [K, K, K, K, K, K, K, K, K],
        ),
        (
            ("PATCH", "/api/v1/workspaces/{id}"),
            [K, K, K, K, K, K, K, K, K],
        ),
        (
            ("DELETE", "/api/v1/workspaces/{id}"),
            [K, K, K, K, K, K, K, K, K],
        ),
        (
            ("GET", "/api/v1/workspaces/{id}/members"),
            [K, K, K, K, K, K, K, K, K],
        ),
        (
            ("PUT", "/api/v1/workspaces/{id}/members/{user_id}"),
            [K, K, K, K, K, K, K, K, K],
        ),
        (
            ("DELETE", "/api/v1/workspaces/{id}/members/{user_id}"),
            [K, K, K, K, K, K, K, K, K],
        ),
        (("GET", "/admin/jobs"), [A, A, D, A, D, D, L, E, D]),
        (("GET", "/admin/jobs/failures"), [A, A, D, A, D, D, L, E, D]),
        (("GET", "/admin/jobs/stats"), [A, A, D, A, D, D, L, E, D]),
        (("GET", "/admin/jobs/alerts"), [A, A, D, A, D, D, L, E, D]),
        (("POST", "/admin/jobs/alerts"), [A, D, D, D, D, D, L, E, D]),
        (
            ("POST", "/admin/jobs/alerts/test"),
            [A, D, D, D, D, D, L, E, D],
        ),
        (
            ("GET", "/admin/jobs/failures/{id}"),
            [A, A, D, A, D, D, L, E, D],
        ),
        (("POST", "/admin/jobs/bulk"), [A, D, D, D, D, D, L, E, D]),
        (
            ("GET", "/admin/users/{id}/jobs"),
            [A, A, D, A, D, D, L, E, D],
        ),
        (
            ("GET", "/admin/jobs/{queue}/{state}"),
            [A, A, D, A, D, D, L, E, D],
        ),
        (
            ("GET", "/admin/jobs/{queue}/job/{job}"),
            [A, A, D, A, D, D, L, E, D],
        ),
        (
            ("POST", "/admin/jobs/{queue}/job/{job}/retry"),
            [A, D, D, D, D, D, L, E, D],
        ),
        (
            ("POST", "/admin/jobs/{queue}/job/{job}/delete"),
            [A, D, D, D, D, D, L, E, D],
        ),
        (
            ("POST", "/admin/jobs/{queue}/job/{job}/promote"),
            [A, D, D, D, D, D, L, E, D],
        ),
        (
            ("POST", "/admin/jobs/{queue}/pause"),
            [A, D, D, D, D, D, L, E, D],
        ),
        (
            ("POST", "/admin/jobs/{queue}/resume"),
            [A, D, D, D, D, D, L, E, D],
        ),
        (("GET", "/api/v1/jobs/queues"), [K, K, K, K, K, K, K, K, K]),
        (
            ("GET", "/api/v1/jobs/failures"),
            [K, K, K, K, K, K, K, K, K],
        ),
        (
            ("GET", "/api/v1/jobs/{queue}/{item}"),
            [K, K, K, K, K, K, K, K, K],
        ),
        (
            ("DELETE", "/api/v1/jobs/{queue}/{item}"),
            [K, K, K, K, K, K, K, K, K],
        ),
        (
            ("POST", "/api/v1/jobs/{queue}/{item}/retry"),
            [K, K, K, K, K, K, K, K, K],
        ),
        (
            ("POST", "/api/v1/jobs/{queue}/retry"),
            [K, K, K, K, K, K, K, K, K],
        ),
        (("GET", "/admin/sessions"), [A, D, D, D, D, D, L, E, D]),
        (
            ("POST", "/admin/sessions/others/end"),
            [A, D, D, D, D, D, L, E, D],
        ),
        (
            ("POST", "/admin/sessions/{handle}/end"),
            [A, D, D, D, D, D, L, E, D],
        ),
        (
            ("GET", "/admin/users/{id}/sessions"),
            [A, D, D, D, D, D, L, E, D],
        ),
        (
            ("POST", "/admin/users/{id}/sessions/end"),
            [A, D, D, D, D, D, L, E, D],
        ),
        (("GET", "/api/docs"), [A, A, A, A, D, D, L, E, A]),
        (("GET", "/api/v1/openapi.json"), [A, A, A, A, A, A, A, A, A]),
    ])
}

/// A path with its parameters filled; `{id}` is a user none of the actors is,
/// so actions on it never sign an actor out.
fn concrete(path: &str, target: i64) -> String {
    path.replace("{*name}", "app.css")
        .replace("{token}", "not-a-token")
        .replace("{handle}", "0000")
        .replace("{slug}", "club")
        .replace("{queue}", "articleQueue")
        .replace("{state}", "failed")
        .replace("{job}", "1")
        .replace("{item}", "1")
        .replace("{id}", &target.to_string())
}

fn classify(res: &reqwest::Response) -> Seen {
    if res.status() == StatusCode::FORBIDDEN {
        D
    } else if res.status() == StatusCode::UNAUTHORIZED && res.url().path().starts_with("/api/") {
        // Elsewhere a 401 is a handler's answer (a wrong password).
        K
    } else if res.status() == StatusCode::SEE_OTHER && location(res).starts_with("/login?next=") {
        L
    } else if res.status() == StatusCode::SEE_OTHER && location(res) == "/account/totp" {
        E
    } else {
        A
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_route_for_every_actor() {
    let app = TestApp::spawn().await;
    let expected = expected();
    let mut table = routes::table();
    // Sign-out ends the actor's session: keep it for last.
    table.sort_by_key(|r| r.path == "/logout");
    let mut failures = Vec::new();
    for route in &table {
        if !expected.contains_key(&(route.method.as_str(), route.path)) {
            failures.push(format!(
                "{} {} has no entry in the access matrix",
                route.method, route.path
            ));
        }
    }
    let listed: Vec<(String, &str)> = table
        .iter()
        .map(|r| (r.method.to_string(), r.path))
        .collect();
    for (method, path) in expected.keys() {
        if !listed.iter().any(|(m, p)| m == method && p == path) {
            failures.push(format!(
                "{method} {path} is in the matrix but not in the router"
            ));
        }
    }
    let target = app.create_user("target@example.test", &[], false).await.id;
    let mut clients = Vec::new();
    for kind in Kind::ALL {
        clients.push((format!("{kind:?}"), app.client_as(kind).await.0));
    }
    // Password accepted, second factor not enrolled: only enrolment and
    // sign-out are open to this actor.
    let unenrolled = app
        .create_user("unenrolled@example.test", &["support"], false)
        .await;
    let client = app.client();
    let res = app
        .login_password(&client, &unenrolled.email, &unenrolled.password)
        .await;
    assert_eq!(location(&res), "/account/totp", "sent to enrol at sign-in");
    clients.push(("support without TOTP".to_owned(), client));
    clients.push((
        "custom role".to_owned(),
        billing_desk(&app, &clients[0].1).await,
    ));
    for route in &table {
        let Some(row) = expected.get(&(route.method.as_str(), route.path)) else {
            continue;
        };
        // Ending everyone's sessions would sign every other actor out: the
        // administrator's call is made at the end, by an administrator of its own.
        let mut order: Vec<usize> = (0..clients.len()).collect();
        if route.path == EVERYONE_OUT {
            order.retain(|i| *i != 0);
        }
        for i in order {
            let (kind, client) = &clients[i];
            let url = app.url(&concrete(route.path, target));
            let res = if route.method == Method::GET {
                client.get(&url).send().await.unwrap()
            } else {
                let token = app.csrf(client).await;
                client
                    .request(route.method.clone(), &url)
                    .form(&[("_csrf", token.as_str())])
                    .send()
                    .await
                    .unwrap()
            };
            if res.status().is_server_error() {
                failures.push(format!(
                    "{} {} as {kind}: {}",
                    route.method,
                    route.path,
                    res.status()
                ));
            }
            let seen = classify(&res);
            if seen != row[i] {
                failures.push(format!(
                    "{} {} as {kind}: expected {:?}, got {seen:?} ({})",
                    route.method,
                    route.path,
                    row[i],
                    res.status()
                ));
            }
        }
    }
    let last = app
        .create_user("last-admin@example.test", &["admin"], true)
        .await;
    let client = app.client();
    app.sign_in(&client, &last).await;
    let res = app.post_form(&client, EVERYONE_OUT, &[]).await;
    let seen = classify(&res);
    if seen != expected[&("POST", EVERYONE_OUT)][0] {
        failures.push(format!(
            "POST {EVERYONE_OUT} as Admin: got {seen:?} ({})",
            res.status()
        ));
    }
    assert!(
        failures.is_empty(),
        "access matrix:\n{}",
        failures.join("\n")
    );
}

/// The custom role's permissions, ticked on the roles screen.
const BILLING_DESK: &[&str] = &[
    "users.read",
    "notes.write",
    "billing.read",
    "billing.write",
    "usage.read",
    "audit.read",
];

/// A client signed in as the holder of a custom role the administrator
/// (`admin`) creates and grants through the screens.
async fn billing_desk(app: &TestApp, admin: &reqwest::Client) -> reqwest::Client {
    let mut form = vec![
        ("name_en", "Billing desk"),
        ("name_fr", "Guichet facturation"),
    ];
    form.extend(BILLING_DESK.iter().map(|p| ("permissions", *p)));
    let res = app.post_form(admin, "/admin/roles", &form).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "role created");
    let holder = app.create_user("desk@example.test", &[], true).await;
    let res = app
        .post_form(
            admin,
            &format!("/admin/users/{}/roles", holder.id),
            &[("op", "grant"), ("role", "custom-billing-desk")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "role granted");
    let client = app.client();
    app.sign_in(&client, &holder).await;
    client
}

/// The route that signs every other session out.
const EVERYONE_OUT: &str = "/admin/sessions/others/end";
