//! ferrobase-core: the Parse domain. Values, schemas, the query AST, update operations, ACLs, the
//! storage trait, and the REST pipeline (`rest`) that applies Parse's rules between HTTP and a store.
//! It never depends on a particular store or on HTTP.

pub mod acl;
pub mod aggregate;
pub mod auth;
pub mod auth_data;
pub mod config;
#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
pub mod error;
pub mod events;
pub mod file_tokens;
pub mod geo;
pub mod hooks;
pub mod mailer;
pub mod matcher;
/// A reference store in memory for tests (`testing` feature).
#[cfg(any(test, feature = "testing"))]
pub mod memory;
pub mod push;
pub mod query;
pub mod rest;
pub mod schema;
pub mod storage;
pub mod types;
pub mod update;

pub use error::{Error, Result};
