//! Users: the model here; screens come with the users area.

pub mod model;
