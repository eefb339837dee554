//! ferrobase: a Parse Server compatible back end. HTTP layer (routes, request normalisation,
//! error mapping) over `ferrobase-core`, with the embedded store from `ferrobase-sqlite`.

pub mod app;
pub mod auth;
pub mod backup;
pub mod cloud;
pub mod config;
pub mod error;
pub mod export;
pub mod files;
pub mod idempotency;
pub mod keys;
pub mod live;
pub mod mail;
pub mod migrate;
pub mod observe;
pub mod orphans;
pub mod public;
pub mod push;
pub mod ratelimit;
pub mod request;
pub mod routes;
pub mod serve;
