//! Stripe below the HTTP layer: the API calls staff and the month close
//! make ([`stripe_api`]), the webhook signature ([`signature`]), the
//! events as stored ([`events`]) and what each changes ([`apply`],
//! [`subscription`]), the overage put on invoices ([`overage`]).

pub mod apply;
pub mod events;
pub mod overage;
pub mod signature;
pub mod stripe_api;
pub mod subscription;
