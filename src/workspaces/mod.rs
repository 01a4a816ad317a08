//! Workspaces (sowat.io's clubs) and their members: the typed settings,
//! and every change with its audit event, carrying the workspace id.
//! The rules on who may do what are in `access` (BASE is changed by
//! administrators only); the rules on what may be done are here (BASE is
//! never renamed, archived or deleted; a workspace keeps an active
//! manager).

pub mod changes;
pub mod settings;
