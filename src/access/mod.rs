//! Who may do what: the closed set of permissions, the actor making a request,
//! and the one function that decides, [`can`].
//!
//! Platform permissions come from platform roles (`user_roles`); workspace
//! permissions come from the member's role in that workspace. Rules from the
//! governance document encoded here:
//! - only Administrators change the BASE workspace (content, members, settings);
//! - a Tester lists every workspace (`workspaces.read`) but acts only where a
//!   workspace role grants it;
//! - a Manager manages members and settings of their own workspaces only;
//! - `/admin/*` needs a platform role (enforced by the route guard).

pub mod role_cache;
pub mod rule;
pub use rule::{Access, Decision, decide};
pub mod roles;
pub mod workspace;

use std::collections::{HashMap, HashSet};

use crate::db::types::WorkspaceRole;

macro_rules! permissions {
    ($($variant:ident => $key:literal),+ $(,)?) => {
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Permission { $($variant),+ }

        impl Permission {
            pub const ALL: &'static [Permission] = &[$(Permission::$variant),+];
            pub fn key(self) -> &'static str {
                match self { $(Permission::$variant => $key),+ }
            }
            pub fn parse(key: &str) -> Option<Self> {
                match key { $($key => Some(Permission::$variant),)+ _ => None }
            }
        }
    };
}

permissions! {
    AdminAccess => "admin.access",
    UsersRead => "users.read",
    UsersWrite => "users.write",
    UsersDelete => "users.delete",
    UsersPasswordReset => "users.password_reset",
    NotesWrite => "notes.write",
    BillingRead => "billing.read",
    BillingWrite => "billing.write",
    UsageRead => "usage.read",
    QuotasManage => "quotas.manage",
    JobsRead => "jobs.read",
    JobsWrite => "jobs.write",
    AuditRead => "audit.read",
    RolesManage => "roles.manage",
    SettingsManage => "settings.manage",
    WorkspacesRead => "workspaces.read",
    WorkspacesManage => "workspaces.manage",
    WorkspaceRead => "workspace.read",
    WorkspaceContent => "workspace.content",
    WorkspaceMembersManage => "workspace.members.manage",
    WorkspaceSettingsManage => "workspace.settings.manage",
    ApiKeysManage => "api_keys.manage",
    UsersSync => "users.sync",
    UsageWrite => "usage.write",
    SessionsManage => "sessions.manage",
    ExportsRun => "exports.run",
    AuditExport => "audit.export",
}

impl Permission {
    /// Permissions that change a workspace: refused on BASE to all but Administrators.
    pub fn modifies_workspace(self) -> bool {
        matches!(
            self,
            Permission::WorkspaceContent
                | Permission::WorkspaceMembersManage
                | Permission::WorkspaceSettingsManage
                | Permission::WorkspacesManage
        )
    }
}

/// What an API key may be granted: a closed list, each scope naming the
/// permissions it carries, so a key goes through the same [`can`] as a
/// person.
macro_rules! scopes {
    ($($variant:ident => $key:literal => [$($perm:ident),+]),+ $(,)?) => {
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Scope { $($variant),+ }

        impl Scope {
            pub const ALL: &'static [Scope] = &[$(Scope::$variant),+];
            pub fn key(self) -> &'static str {
                match self { $(Scope::$variant => $key),+ }
            }
            pub fn parse(key: &str) -> Option<Self> {
                match key { $($key => Some(Scope::$variant),)+ _ => None }
            }
            pub fn permissions(self) -> &'static [Permission] {
                match self { $(Scope::$variant => &[$(Permission::$perm),+]),+ }
            }
        }
    };
}

scopes! {
    UsersRead => "users:read" => [UsersRead],
    UsersSync => "users:sync" => [UsersSync],
    UsageRead => "usage:read" => [UsageRead],
    UsageWrite => "usage:write" => [UsageWrite],
    BillingWrite => "billing:write" => [BillingWrite],
    JobsRead => "jobs:read" => [JobsRead],
    JobsWrite => "jobs:write" => [JobsWrite],
    // A workspace key reads (writes) every workspace but BASE, which only
    // an administrator changes: a key acting on behalf of one.
    WorkspacesRead => "workspaces:read" => [WorkspacesRead, WorkspaceRead],
    WorkspacesWrite => "workspaces:write" => [WorkspacesManage, WorkspaceMembersManage, WorkspaceSettingsManage],
}

/// An API key acting: which one, and the application it speaks for (the
/// app of origin recorded with everything it does).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyPrincipal {
    pub id: i64,
    pub name: String,
    pub client_id: String,
}

/// Key of the built-in Administrator role.
pub const ADMIN_ROLE: &str = "admin";

/// A platform role held by a user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleRef {
    pub id: i64,
    pub key: String,
    pub name_en: String,
    pub name_fr: String,
}

/// A role as the role tables hold it: id, key, English and French names.
impl From<(i64, String, String, String)> for RoleRef {
    fn from((id, key, name_en, name_fr): (i64, String, String, String)) -> Self {
        RoleRef {
            id,
            key,
            name_en,
            name_fr,
        }
    }
}

impl RoleRef {
    /// The role's name in `lang`.
    pub fn label(&self, lang: crate::i18n::Lang) -> &str {
        match lang {
            crate::i18n::Lang::Fr => &self.name_fr,
            crate::i18n::Lang::En => &self.name_en,
        }
    }
}

/// A signed-in user with everything the access check needs.
#[derive(Clone, Debug, Default)]
pub struct Actor {
    pub user_id: i64,
    pub email: String,
    pub name: String,
    pub platform_roles: Vec<RoleRef>,
    pub platform_permissions: HashSet<Permission>,
    pub memberships: HashMap<i64, Membership>,
    pub totp_enabled: bool,
    /// Set when the actor is an API key rather than a person: then
    /// `platform_permissions` are its scopes' and `user_id` is 0.
    pub key: Option<KeyPrincipal>,
}

#[derive(Clone, Debug)]
pub struct Membership {
    pub role: WorkspaceRole,
    pub permissions: HashSet<Permission>,
    /// The workspace requires its managers to use a second factor.
    pub two_factor_required: bool,
}

/// The workspace a permission is asked for.
#[derive(Clone, Copy, Debug)]
pub struct WorkspaceRef {
    pub id: i64,
    pub is_base: bool,
}

impl Actor {
    /// The actor for an API key with these scopes.
    pub fn for_key(key: KeyPrincipal, scopes: &[Scope]) -> Self {
        Actor {
            name: key.name.clone(),
            platform_permissions: scopes
                .iter()
                .flat_map(|s| s.permissions().iter().copied())
                .collect(),
            key: Some(key),
            ..Actor::default()
        }
    }

    pub fn has_platform_role(&self) -> bool {
        !self.platform_roles.is_empty()
    }

    pub fn is_admin(&self) -> bool {
        self.platform_roles.iter().any(|r| r.key == ADMIN_ROLE)
    }

    /// TOTP is mandatory for platform roles, and for the managers of a
    /// workspace whose settings require it: until enrolled, nothing else.
    /// Other users (members, managers elsewhere) may enrol, need not.
    pub fn must_enroll_totp(&self) -> bool {
        let required = self.has_platform_role()
            || self
                .memberships
                .values()
                .any(|m| m.role == WorkspaceRole::Manager && m.two_factor_required);
        required && !self.totp_enabled
    }

    /// This actor, held to what `key` may do: the API key acting on behalf
    /// of this user keeps the user's roles and memberships, each permission
    /// kept only when one of the key's scopes also carries it.
    pub fn through_key(mut self, key: KeyPrincipal, scopes: &[Scope]) -> Self {
        let allowed: HashSet<Permission> = scopes
            .iter()
            .flat_map(|s| s.permissions().iter().copied())
            .collect();
        self.platform_permissions.retain(|p| allowed.contains(p));
        for m in self.memberships.values_mut() {
            m.permissions.retain(|p| allowed.contains(p));
        }
        self.key = Some(key);
        self
    }
}

/// The one decision: may `actor` use `permission`, optionally inside `workspace`?
pub fn can(actor: &Actor, permission: Permission, workspace: Option<WorkspaceRef>) -> bool {
    let Some(ws) = workspace else {
        return actor.platform_permissions.contains(&permission);
    };
    if ws.is_base && permission.modifies_workspace() {
        return actor.is_admin();
    }
    if actor.platform_permissions.contains(&permission) {
        return true;
    }
    actor
        .memberships
        .get(&ws.id)
        .is_some_and(|m| m.permissions.contains(&permission))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(key: &str) -> RoleRef {
        RoleRef {
            id: 0,
            key: key.into(),
            name_en: key.into(),
            name_fr: key.into(),
        }
    }

    fn actor(roles: &[&str], perms: &[Permission]) -> Actor {
        Actor {
            platform_roles: roles.iter().map(|r| role(r)).collect(),
            platform_permissions: perms.iter().copied().collect(),
            ..Actor::default()
        }
    }

    const BASE: WorkspaceRef = WorkspaceRef {
        id: 1,
        is_base: true,
    };
    const CLUB: WorkspaceRef = WorkspaceRef {
        id: 2,
        is_base: false,
    };
    const OTHER: WorkspaceRef = WorkspaceRef {
        id: 3,
        is_base: false,
    };

    fn member_of(mut a: Actor, ws: i64, role: WorkspaceRole, perms: &[Permission]) -> Actor {
        a.memberships.insert(
            ws,
            Membership {
                role,
                permissions: perms.iter().copied().collect(),
                two_factor_required: false,
            },
        );
        a
    }

    const MANAGER_PERMS: &[Permission] = &[
        Permission::WorkspaceRead,
        Permission::WorkspaceContent,
        Permission::WorkspaceMembersManage,
        Permission::WorkspaceSettingsManage,
    ];

    #[test]
    fn only_administrators_modify_base() {
        let admin = actor(&["admin"], Permission::ALL);
        assert!(can(&admin, Permission::WorkspaceSettingsManage, Some(BASE)));
        let manager_of_base = member_of(actor(&[], &[]), 1, WorkspaceRole::Manager, MANAGER_PERMS);
        assert!(!can(
            &manager_of_base,
            Permission::WorkspaceMembersManage,
            Some(BASE)
        ));
        assert!(can(&manager_of_base, Permission::WorkspaceRead, Some(BASE)));
        let tester = member_of(
            actor(
                &["tester"],
                &[Permission::AdminAccess, Permission::WorkspacesRead],
            ),
            1,
            WorkspaceRole::Manager,
            MANAGER_PERMS,
        );
        assert!(!can(&tester, Permission::WorkspaceContent, Some(BASE)));
    }

    #[test]
    fn tester_sees_all_but_acts_only_where_granted() {
        let tester = actor(
            &["tester"],
            &[Permission::AdminAccess, Permission::WorkspacesRead],
        );
        let tester = member_of(
            tester,
            2,
            WorkspaceRole::Member,
            &[Permission::WorkspaceRead, Permission::WorkspaceContent],
        );
        assert!(can(&tester, Permission::WorkspacesRead, None));
        assert!(can(&tester, Permission::WorkspaceContent, Some(CLUB)));
        assert!(!can(&tester, Permission::WorkspaceContent, Some(OTHER)));
        assert!(!can(
            &tester,
            Permission::WorkspaceMembersManage,
            Some(CLUB)
        ));
    }

    #[test]
    fn manager_manages_only_own_workspace() {
        let manager = member_of(actor(&[], &[]), 2, WorkspaceRole::Manager, MANAGER_PERMS);
        assert!(can(
            &manager,
            Permission::WorkspaceMembersManage,
            Some(CLUB)
        ));
        assert!(!can(
            &manager,
            Permission::WorkspaceMembersManage,
            Some(OTHER)
        ));
        assert!(!can(&manager, Permission::WorkspacesRead, None));
        assert!(!manager.has_platform_role());
    }

    #[test]
    fn platform_permission_without_workspace() {
        let support = actor(
            &["support"],
            &[Permission::AdminAccess, Permission::UsersRead],
        );
        assert!(can(&support, Permission::UsersRead, None));
        assert!(!can(&support, Permission::UsersWrite, None));
        assert!(!can(&support, Permission::RolesManage, None));
    }

    #[test]
    fn a_key_can_what_its_scopes_carry() {
        let key = Actor::for_key(KeyPrincipal::default(), &[Scope::UsersRead]);
        assert!(can(&key, Permission::UsersRead, None));
        assert!(!can(&key, Permission::UsersSync, None));
        assert!(!key.has_platform_role());
        for s in Scope::ALL {
            assert_eq!(Scope::parse(s.key()), Some(*s));
        }
    }

    #[test]
    fn permission_keys_round_trip() {
        for p in Permission::ALL {
            assert_eq!(Permission::parse(p.key()), Some(*p));
        }
    }
}
