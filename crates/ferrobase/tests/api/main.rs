//! Black-box HTTP tests: each boots the real server on 127.0.0.1:0 with its own embedded store.

mod auth_data;
mod backup;
mod basics;
mod batch;
mod cloud;
mod durability;
mod email;
mod endpoints;
mod errors;
mod files;
mod geo_text;
mod helpers;
mod limits;
mod livequery;
mod migrate;
mod multinode;
mod objects;
mod observe;
mod public_dir;
mod queries;
mod roles;
mod schemas;
mod security;
mod users;
