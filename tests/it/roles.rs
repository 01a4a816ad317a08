//! Custom roles through the screens: created with exactly the permissions
//! ticked, edited with the change holding at the next request on another
//! instance, no escalation by an editor short of a permission, built-in
//! roles read-only, a held role not deletable, each change audited with
//! its permission diff.

use reqwest::StatusCode;
use serde_json::Value;

use crate::harness::{Kind, TestApp, location, select_attrs, select_text};

async fn create_role(
    app: &TestApp,
    client: &reqwest::Client,
    name: &str,
    perms: &[&str],
) -> reqwest::Response {
    let mut form = vec![("name_en", name)];
    form.extend(perms.iter().map(|p| ("permissions", *p)));
    app.post_form(client, "/admin/roles", &form).await
}

fn id_of(res: &reqwest::Response) -> i64 {
    let to = location(res);
    to.trim_start_matches("/admin/roles/")
        .split('?')
        .next()
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("not a role page: {to}"))
}

async fn grant(app: &TestApp, by: &reqwest::Client, user: i64, role: &str) -> reqwest::Response {
    app.post_form(
        by,
        &format!("/admin/users/{user}/roles"),
        &[("op", "grant"), ("role", role)],
    )
    .await
}

async fn text(res: reqwest::Response) -> String {
    res.text().await.expect("body")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_custom_role_grants_its_permissions_and_an_edit_holds_on_the_next_request() {
    let app = TestApp::spawn().await;
    let other = app.second_instance().await;
    let (admin, _) = app.client_as(Kind::Admin).await;

    // The form offers every assignable permission, explained, by area.
    let html = text(app.get(&admin, "/admin/roles/new").await).await;
    let offered = select_attrs(&html, "#role-form input[name=permissions]", "value");
    assert!(offered.contains(&"audit.read".to_owned()));
    assert!(
        !offered.contains(&"users.sync".to_owned()),
        "key-only scope"
    );
    assert!(!offered.contains(&"admin.access".to_owned()), "implied");
    assert_eq!(select_text(&html, "fieldset.perm-area legend").len(), 5);

    // Refused inline: no name, no permission.
    let res = create_role(&app, &admin, "", &[]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = text(res).await;
    assert_eq!(select_text(&html, "#err-name_en").len(), 1);
    assert_eq!(select_text(&html, "#err-permissions").len(), 1);

    let res = create_role(&app, &admin, "Auditor", &["audit.read", "users.read"]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let role = id_of(&res);
    // The same name again (any case) is refused.
    let res = create_role(&app, &admin, "auditor", &["audit.read"]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let holder = app.create_user("auditor@roles.test", &[], true).await;
    let res = grant(&app, &admin, holder.id, "custom-auditor").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let client = app.client();
    app.sign_in(&client, &holder).await;
    let at_other = |path: &str| {
        let url = format!("http://{}{path}", other.addr);
        client.get(url).send()
    };
    assert_eq!(
        at_other("/admin/audit").await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(
        at_other("/admin/users").await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(
        at_other("/admin/plans").await.unwrap().status(),
        StatusCode::FORBIDDEN
    );

    // The list shows it with its holder.
    let html = text(app.get(&admin, "/admin/roles").await).await;
    let row = format!("#role-rows tr[data-id=\"{role}\"] td.num");
    assert_eq!(select_text(&html, &row), vec!["1"]);

    // audit.read out, billing.read in: the other instance applies it at once.
    let res = app
        .post_form(
            &admin,
            &format!("/admin/roles/{role}"),
            &[
                ("name_en", "Auditor"),
                ("name_fr", "Auditeur"),
                ("permissions", "users.read"),
                ("permissions", "billing.read"),
            ],
        )
        .await;
    assert_eq!(location(&res), format!("/admin/roles/{role}?saved=1"));
    assert_eq!(
        at_other("/admin/audit").await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        at_other("/admin/plans").await.unwrap().status(),
        StatusCode::OK
    );

    let updated = app.audit("role.updated").await;
    assert_eq!(updated.len(), 1);
    let details: Value = serde_json::from_str(&updated[0].2).unwrap();
    assert_eq!(details["added"], serde_json::json!(["billing.read"]));
    assert_eq!(details["removed"], serde_json::json!(["audit.read"]));
    assert_eq!(details["before"]["name_fr"], "Auditor");
    assert_eq!(details["after"]["name_fr"], "Auditeur");
    assert_eq!(app.audit("role.created").await.len(), 1);

    // Held: not deletable until removed from its holder.
    let res = app
        .post_form(&admin, &format!("/admin/roles/{role}/delete"), &[])
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = app
        .post_form(
            &admin,
            &format!("/admin/users/{}/roles", holder.id),
            &[("op", "remove"), ("role", "custom-auditor")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        at_other("/admin").await.unwrap().status(),
        StatusCode::FORBIDDEN,
        "no platform role left"
    );
    let res = app
        .post_form(&admin, &format!("/admin/roles/{role}/delete"), &[])
        .await;
    assert_eq!(location(&res), "/admin/roles");
    assert_eq!(app.audit("role.deleted").await.len(), 1);
    assert_eq!(
        app.get(&admin, &format!("/admin/roles/{role}"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_editor_cannot_escalate() {
    let app = TestApp::spawn().await;
    let (admin, _) = app.client_as(Kind::Admin).await;
    // A role manager who sees users and nothing else.
    let res = create_role(&app, &admin, "Role desk", &["roles.manage", "users.read"]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let desk_role = id_of(&res);
    let res = create_role(&app, &admin, "Billing", &["billing.read", "billing.write"]).await;
    let billing_role = id_of(&res);
    let editor = app.create_user("desk@roles.test", &[], true).await;
    let res = grant(&app, &admin, editor.id, "custom-role-desk").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let desk = app.client();
    app.sign_in(&desk, &editor).await;
    let target = app.create_user("someone@roles.test", &[], true).await;

    // Unheld permissions are offered disabled, and refused when forged.
    let html = text(app.get(&desk, "/admin/roles/new").await).await;
    let disabled = select_attrs(
        &html,
        "#role-form input[name=permissions][disabled]",
        "value",
    );
    assert!(disabled.contains(&"billing.write".to_owned()));
    assert!(!disabled.contains(&"users.read".to_owned()));
    let res = create_role(&app, &desk, "Sneaky", &["users.read", "billing.write"]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text(res).await.contains("permissions you hold"));
    // Within what they hold, with roles.manage itself: allowed.
    let res = create_role(&app, &desk, "Helper", &["users.read", "roles.manage"]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);

    // No granting (or removing) a role beyond them: Administrator, Billing.
    for role in ["admin", "custom-billing"] {
        let res = grant(&app, &desk, target.id, role).await;
        assert!(
            text(res).await.contains("whose permissions you all hold"),
            "{role}"
        );
    }
    let res = grant(&app, &desk, target.id, "custom-helper").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    // No editing a role beyond them, nor a built-in one, nor their own upward.
    for (id, perms) in [
        (billing_role, &["billing.read"][..]),
        (1, &["users.read"][..]),
        (
            desk_role,
            &["roles.manage", "users.read", "users.write"][..],
        ),
    ] {
        let mut form = vec![("name_en", "Edited")];
        form.extend(perms.iter().map(|p| ("permissions", *p)));
        let res = app
            .post_form(&desk, &format!("/admin/roles/{id}"), &form)
            .await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "role {id}");
    }
    let html = text(
        app.get(&desk, &format!("/admin/roles/{billing_role}"))
            .await,
    )
    .await;
    assert_eq!(select_text(&html, "#role-form").len(), 0, "shown read-only");
    assert_eq!(select_text(&html, "#role-readonly").len(), 1);
    let res = app
        .post_form(&desk, &format!("/admin/roles/{billing_role}/delete"), &[])
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // Built-in roles: read-only for the administrator too.
    let html = text(app.get(&admin, "/admin/roles/1").await).await;
    assert_eq!(select_text(&html, "#role-form").len(), 0);
    assert_eq!(app.audit("user.role_granted").await.len(), 2);
    // Each attempted escalation is a denied access in the trail (the
    // built-in role's refusal is not one).
    let escalations = app
        .audit("access.denied")
        .await
        .into_iter()
        .filter(|(outcome, who, _)| outcome == "denied" && who.contains("desk@roles.test"))
        .map(|(_, _, details)| details)
        .collect::<Vec<_>>();
    assert_eq!(escalations.len(), 6, "{escalations:?}");
    assert_eq!(
        escalations
            .iter()
            .filter(|d| d.contains("users.role_beyond_you"))
            .count(),
        2
    );
}
