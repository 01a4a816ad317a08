//! Alerts on sowat.io's queues: rules per queue with thresholds
//! ([`settings`]), evaluated every so often on one instance at a time
//! ([`evaluate`]), a breach and its recovery sent once each to Slack, by
//! mail and as an in-app notification ([`deliver`]), each kept with its
//! figures ([`history`]).

pub mod deliver;
pub mod evaluate;
pub mod history;
pub mod settings;
