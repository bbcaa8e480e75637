//! The Contrail model: the network service's networks, subnets, ports and
//! bare-metal bindings as the VNC objects a Contrail fabric holds
//! ([`view`]), and their push to an external contrail-api ([`push`]).

mod fabric;
pub mod object;
pub mod push;
mod tenant;
pub mod view;
