//! HTTP helpers shared by every API.

pub mod auth;
pub mod microversion;
pub mod openapi;
pub mod policy;
pub mod request_id;
pub mod sealing;
pub mod secrets;
pub mod token;
