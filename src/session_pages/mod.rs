//! `/admin/sessions`: every live session of every user, for whoever may
//! manage sessions: filtered by user, role or address; one ended, all of a
//! user, or all but one's own. A session is a row: deleting it kills its
//! cookie on every instance at that user's next request. Audited.

pub mod changes;
pub mod handlers;
pub mod store;

#[rustfmt::skip]
pub fn routes() -> Vec<crate::web::route::Route> {
    use crate::web::route::*;
    use crate::web::step_up::always;
    vec![
        get("/admin/sessions", Staff(SessionsManage), handlers::list),
        post("/admin/sessions/others/end", Staff(SessionsManage), handlers::end_others).step_up(always),
        post("/admin/sessions/{handle}/end", Staff(SessionsManage), handlers::end_one).step_up(always),
        get("/admin/users/{id}/sessions", Staff(SessionsManage), handlers::user_section),
        post("/admin/users/{id}/sessions/end", Staff(SessionsManage), handlers::end_user).step_up(always),
    ]
}
