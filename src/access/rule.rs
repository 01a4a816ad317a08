//! What a route requires ([`Access`]) and what the guard decides for an
//! actor ([`decide`]): the access rule itself, with no HTTP in it. The web
//! guard applies it to each request.

use crate::access::{Actor, Permission, WorkspaceRef, can};

/// What a route requires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone, signed in or not.
    Public,
    /// Signed in, even before the mandatory TOTP enrollment (enrollment, sign-out).
    Enrolling,
    /// Signed in and enrolled where required.
    SignedIn,
    /// Signed in with this permission.
    Perm(Permission),
    /// Staff only: a platform role *and* this permission (the admin area).
    /// A property of the declared route, so it holds wherever the route is
    /// mounted.
    Staff(Permission),
    /// The machine API: an API key whose scopes carry this permission.
    /// A person's session is never accepted there, nor a key elsewhere.
    Api(Permission),
    /// Signed in with this permission in the workspace the path names
    /// (`{slug}`): a workspace role grants it, or a platform role does.
    InWorkspace(Permission),
    /// The machine API inside the workspace named by `X-Workspace-Id` (which
    /// must be the path's `{id}`): the key, or the user it acts for, holds
    /// this permission there.
    ApiWorkspace(Permission),
    /// A provider's signed callback (Stripe's webhook): no session, CSRF
    /// token or key reaches it; the handler verifies the signature over
    /// the raw body and answers 400 to anything else.
    Webhook,
}

impl Access {
    /// The machine API's routes, answered in JSON with a key.
    pub fn is_api(self) -> bool {
        matches!(self, Access::Api(_) | Access::ApiWorkspace(_))
    }
}

impl Access {
    pub fn describe(self) -> &'static str {
        match self {
            Access::Public => "public",
            Access::Webhook => "signed webhook",
            Access::Enrolling => "signed-in (enrolling)",
            Access::SignedIn => "signed-in",
            Access::Perm(p)
            | Access::Staff(p)
            | Access::Api(p)
            | Access::InWorkspace(p)
            | Access::ApiWorkspace(p) => p.key(),
        }
    }
}

/// What the guard decides for a request.
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    Allow,
    SignIn,
    Enroll,
    Deny,
}

/// `workspace` is the workspace the request acts in, for the kinds that
/// name one (`None` there: unknown, refused).
pub fn decide(access: Access, actor: Option<&Actor>, workspace: Option<WorkspaceRef>) -> Decision {
    let Some(actor) = actor else {
        return if matches!(access, Access::Public | Access::Webhook) {
            Decision::Allow
        } else {
            Decision::SignIn
        };
    };
    let in_workspace = |p| workspace.is_some_and(|ws| can(actor, p, Some(ws)));
    match access {
        Access::Public | Access::Webhook => Decision::Allow,
        Access::Api(p) if actor.key.is_some() && can(actor, p, None) => Decision::Allow,
        Access::ApiWorkspace(p) if actor.key.is_some() && in_workspace(p) => Decision::Allow,
        Access::Api(_) | Access::ApiWorkspace(_) => Decision::Deny,
        _ if actor.key.is_some() => Decision::Deny,
        Access::Enrolling => Decision::Allow,
        _ if actor.must_enroll_totp() => Decision::Enroll,
        Access::SignedIn => Decision::Allow,
        Access::Perm(p) if can(actor, p, None) => Decision::Allow,
        Access::Staff(p) if actor.has_platform_role() && can(actor, p, None) => Decision::Allow,
        Access::InWorkspace(p) if in_workspace(p) => Decision::Allow,
        Access::Perm(_) | Access::Staff(_) | Access::InWorkspace(_) => Decision::Deny,
    }
}
