//! What ironbark tells other systems about its resources.

pub mod contrail;
