//! What a custom platform role may hold, grouped by area for the role form.
//! Each permission is shown with its name (`perm.<key>`) and a one-line
//! explanation (`perm_help.<key>`), in both languages.
//!
//! Left out on purpose: `admin.access`, which every platform role carries
//! (a platform role is what opens `/admin`), and the two permissions only
//! an API key's scopes carry (`users.sync`, `usage.write`: the main app
//! pushing data, never a person).

use crate::access::Permission::{self, *};

/// One area of the form: its label key and its permissions, in display order.
pub struct Area {
    pub key: &'static str,
    pub permissions: &'static [Permission],
}

pub const AREAS: &[Area] = &[
    Area {
        key: "users",
        permissions: &[
            UsersRead,
            UsersWrite,
            UsersPasswordReset,
            NotesWrite,
            UsersDelete,
            ExportsRun,
        ],
    },
    Area {
        key: "workspaces",
        permissions: &[
            WorkspacesRead,
            WorkspaceRead,
            WorkspaceContent,
            WorkspaceMembersManage,
            WorkspaceSettingsManage,
            WorkspacesManage,
        ],
    },
    Area {
        key: "billing",
        permissions: &[BillingRead, BillingWrite, UsageRead, QuotasManage],
    },
    Area {
        key: "jobs",
        permissions: &[JobsRead, JobsWrite],
    },
    Area {
        key: "governance",
        permissions: &[
            AuditRead,
            AuditExport,
            SessionsManage,
            ApiKeysManage,
            SettingsManage,
            RolesManage,
        ],
    },
];

/// Every platform role carries it.
pub const ALWAYS: Permission = AdminAccess;

/// A permission a custom role may be given.
pub fn assignable(p: Permission) -> bool {
    AREAS.iter().any(|a| a.permissions.contains(&p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_permission_is_placed_or_left_out_on_purpose() {
        for p in Permission::ALL {
            let left_out = matches!(p, AdminAccess | UsersSync | UsageWrite);
            assert_ne!(assignable(*p), left_out, "{}", p.key());
        }
        let listed: usize = AREAS.iter().map(|a| a.permissions.len()).sum();
        assert_eq!(
            listed + 3,
            Permission::ALL.len(),
            "a permission listed twice"
        );
    }

    #[test]
    fn every_permission_is_named_and_explained_in_both_languages() {
        for lang in [crate::i18n::Lang::En, crate::i18n::Lang::Fr] {
            for a in AREAS {
                assert!(lang.get(&format!("roles.area_{}", a.key)).is_some());
                for p in a.permissions {
                    assert!(
                        lang.get(&format!("perm.{}", p.key())).is_some(),
                        "{}",
                        p.key()
                    );
                    assert!(
                        lang.get(&format!("perm_help.{}", p.key())).is_some(),
                        "{}",
                        p.key()
                    );
                }
            }
        }
    }
}
