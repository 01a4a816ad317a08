//! What every full page needs besides its own content: language, signed-in
//! user, CSRF token, navigation built from what the user may see, version,
//! request id. Handlers take a [`PageCtx`] and put it in their template.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use tower_sessions::Session;

use crate::access::{Actor, Permission, can};
use crate::error::AppError;
use crate::i18n::Lang;
use crate::web::assets;
use crate::web::csrf;
use crate::web::current::CurrentUser;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Session key of a one-time notice shown on the next page.
pub const FLASH: &str = "flash";

#[derive(Clone, Debug)]
pub struct NavItem {
    pub href: &'static str,
    pub label: &'static str,
    pub active: bool,
}

#[derive(Clone, Debug)]
pub struct UserBadge {
    pub name: String,
    pub email: String,
    pub roles: String,
}

#[derive(Clone, Debug)]
pub struct PageCtx {
    pub lang: Lang,
    pub user: Option<UserBadge>,
    pub csrf: String,
    pub nav: Vec<NavItem>,
    pub request_id: String,
    pub path: String,
    pub can_search: bool,
    /// Staff who receive notifications see the bell.
    pub bell: bool,
    pub flash: Option<String>,
    /// Staff in admin mode: when it ends, and what that means.
    pub admin_mode: Option<AdminMode>,
}

/// The header's admin-mode badge: until when dangerous actions go through
/// without asking for a code again.
#[derive(Clone, Debug)]
pub struct AdminMode {
    /// "14:32": the end of the window, UTC.
    pub until: String,
    pub explained: String,
}

impl PageCtx {
    pub fn tr(&self, key: &str) -> &'static str {
        self.lang.t(key)
    }

    /// "Needs the permission “Edit users”": why an action is not offered.
    pub fn needs(&self, permission: &str) -> String {
        let name = self
            .lang
            .get(&format!("perm.{permission}"))
            .unwrap_or(permission);
        self.lang.tf("perm.needs", &[("perm", name)])
    }

    /// A message with one placeholder filled (`{name}` in the text).
    pub fn tr_with(&self, key: &str, name: &str, value: &str) -> String {
        self.lang.tf(key, &[(name, value)])
    }

    /// The plural form of `key` for `n`, `{n}` filled in.
    pub fn tn(&self, key: &str, n: i64) -> String {
        self.lang.tn(key, n, &[("n", &n.to_string())])
    }

    pub fn asset(&self, name: &str) -> String {
        assets::url(name)
    }

    pub fn version(&self) -> &'static str {
        VERSION
    }

    pub fn lang_code(&self) -> &'static str {
        self.lang.code()
    }

    /// For pages rendered outside a handler (errors): no user, no token.
    pub fn minimal(lang: Lang, request_id: String) -> Self {
        PageCtx {
            lang,
            user: None,
            csrf: String::new(),
            nav: Vec::new(),
            request_id,
            path: String::new(),
            can_search: false,
            bell: false,
            flash: None,
            admin_mode: None,
        }
    }

    /// htmx sends the token on every request from the page (`hx-headers` on body).
    pub fn hx_headers(&self) -> String {
        serde_json::json!({ csrf::HEADER: self.csrf }).to_string()
    }
}

/// The navigation a user sees: only what they may open.
fn nav_for(actor: &Actor, lang: Lang, path: &str) -> Vec<NavItem> {
    let entries: [(&'static str, &'static str, Option<Permission>); 14] = [
        ("/admin", "nav.dashboard", Some(Permission::AdminAccess)),
        ("/admin/users", "nav.users", Some(Permission::UsersRead)),
        (
            "/admin/workspaces",
            "nav.workspaces",
            Some(Permission::WorkspacesRead),
        ),
        ("/admin/plans", "nav.plans", Some(Permission::BillingRead)),
        (
            "/admin/usage/overage",
            "nav.overage",
            Some(Permission::BillingRead),
        ),
        (
            "/admin/billing/events",
            "nav.billing_events",
            Some(Permission::BillingRead),
        ),
        ("/admin/jobs", "nav.jobs", Some(Permission::JobsRead)),
        ("/admin/audit", "nav.audit", Some(Permission::AuditRead)),
        (
            "/admin/api-keys",
            "nav.api_keys",
            Some(Permission::ApiKeysManage),
        ),
        ("/admin/tasks", "nav.tasks", Some(Permission::AdminAccess)),
        (
            "/admin/sessions",
            "nav.sessions",
            Some(Permission::SessionsManage),
        ),
        ("/admin/roles", "nav.roles", Some(Permission::RolesManage)),
        // The workspaces the user belongs to (managers and members).
        ("/workspaces", "nav.my_workspaces", None),
        ("/account", "nav.account", None),
    ];
    entries
        .into_iter()
        .filter(|(href, _, perm)| match perm {
            Some(p) => {
                (!href.starts_with("/admin") || actor.has_platform_role()) && can(actor, *p, None)
            }
            None if *href == "/workspaces" => !actor.memberships.is_empty(),
            None => true,
        })
        .map(|(href, key, _)| NavItem {
            href,
            label: lang.t(key),
            active: path == href
                || (href != "/admin" && href != "/account" && path.starts_with(href))
                || (href == "/account" && path.starts_with("/account/")),
        })
        .collect()
}

impl FromRequestParts<crate::state::AppState> for PageCtx {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &crate::state::AppState,
    ) -> Result<Self, Self::Rejection> {
        let lang = parts.extensions.get::<Lang>().copied().unwrap_or_default();
        let CurrentUser(actor) = CurrentUser::from_request_parts(parts, state)
            .await
            .unwrap_or_default();
        let session = Session::from_request_parts(parts, state)
            .await
            .map_err(|_| AppError::internal("session layer missing"))?;
        let csrf = csrf::token(&session, parts.extensions.get::<csrf::AnonToken>()).await?;
        let path = parts.uri.path().to_owned();
        let request_id = parts
            .headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let bell = actor.as_ref().is_some_and(|a| {
            a.has_platform_role()
                && !a.must_enroll_totp()
                && (can(a, Permission::UsageRead, None)
                    || can(a, Permission::BillingRead, None)
                    || can(a, Permission::JobsRead, None))
        });
        let (user, nav, can_search) = match &actor {
            Some(a) => (
                Some(UserBadge {
                    name: if a.name.is_empty() {
                        a.email.clone()
                    } else {
                        a.name.clone()
                    },
                    email: a.email.clone(),
                    roles: a
                        .platform_roles
                        .iter()
                        .map(|r| r.label(lang))
                        .collect::<Vec<_>>()
                        .join(", "),
                }),
                if a.must_enroll_totp() {
                    Vec::new()
                } else {
                    nav_for(a, lang, &path)
                },
                a.has_platform_role() && can(a, Permission::UsersRead, None),
            ),
            None => (None, Vec::new(), false),
        };
        // Read first: `remove` marks the session changed even when there is
        // nothing to remove, and a changed session is written back, which
        // made every page view a database write.
        let flash = match session.get::<String>(FLASH).await.ok().flatten() {
            Some(_) => session.remove::<String>(FLASH).await.ok().flatten(),
            None => None,
        };
        let admin_mode = match &actor {
            Some(a) if a.has_platform_role() && a.totp_enabled => {
                admin_mode(state, &session, lang).await
            }
            _ => None,
        };
        Ok(PageCtx {
            admin_mode,
            lang,
            user,
            csrf,
            nav,
            request_id,
            path,
            can_search,
            bell,
            flash,
        })
    }
}

/// The admin-mode badge while the session's last second-factor check still
/// covers dangerous actions.
async fn admin_mode(
    state: &crate::state::AppState,
    session: &Session,
    lang: Lang,
) -> Option<AdminMode> {
    let checked = crate::web::step_up::checked_at(session).await?;
    let window = time::Duration::try_from(state.config.step_up).ok()?;
    let until = checked + window;
    if until <= state.clock.now() {
        return None;
    }
    let at = |t: time::OffsetDateTime| format!("{:02}:{:02}", t.hour(), t.minute());
    let minutes = (window.whole_minutes()).to_string();
    Some(AdminMode {
        until: at(until),
        explained: lang.tf(
            "step_up.checked_at",
            &[("time", &at(checked)), ("n", &minutes)],
        ),
    })
}
