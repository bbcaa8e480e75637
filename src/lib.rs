//! ironbark: bare-metal servers behind the OpenStack APIs, in one binary.

pub mod api;
pub mod bootstrap;
pub mod common;
pub mod config;
pub mod console;
pub mod drivers;
pub mod engine;
pub mod reporters;
pub mod server;
pub mod storage;
