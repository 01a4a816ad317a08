//! `/admin/jobs`: sowat.io's BullMQ queues for the staff: the overview of
//! every queue, a queue's jobs by state, a job's page, and the actions on
//! them (retry, delete, promote, pause, resume), each confirmed and audited.

pub mod actions;
pub mod alerts_page;
pub mod bulk;
pub mod failure_filter;
pub mod failures;
pub mod job_page;
pub mod lists;
pub mod overview;
pub mod stats_page;
pub mod user_section;
pub mod view;

#[rustfmt::skip]
pub fn routes() -> Vec<crate::web::route::Route> {
    use crate::web::route::*;
    vec![
        get("/admin/jobs", Staff(JobsRead), overview::overview),
        get("/admin/jobs/failures", Staff(JobsRead), failures::list),
        get("/admin/jobs/stats", Staff(JobsRead), stats_page::stats),
        get("/admin/jobs/alerts", Staff(JobsRead), alerts_page::show),
        post("/admin/jobs/alerts", Staff(JobsWrite), alerts_page::save),
        post("/admin/jobs/alerts/test", Staff(JobsWrite), alerts_page::test),
        get("/admin/jobs/failures/{id}", Staff(JobsRead), failures::show),
        post("/admin/jobs/bulk", Staff(JobsWrite), bulk::submit).step_up(crate::web::step_up::bulk_jobs),
        get("/admin/users/{id}/jobs", Staff(JobsRead), user_section::section),
        get("/admin/jobs/{queue}/{state}", Staff(JobsRead), lists::list),
        get("/admin/jobs/{queue}/job/{job}", Staff(JobsRead), job_page::show),
        post("/admin/jobs/{queue}/job/{job}/retry", Staff(JobsWrite), actions::retry),
        post("/admin/jobs/{queue}/job/{job}/delete", Staff(JobsWrite), actions::delete),
        post("/admin/jobs/{queue}/job/{job}/promote", Staff(JobsWrite), actions::promote),
        post("/admin/jobs/{queue}/pause", Staff(JobsWrite), actions::pause),
        post("/admin/jobs/{queue}/resume", Staff(JobsWrite), actions::resume),
    ]
}
