//! What the gateway's benches share.

pub(crate) mod gateway;
