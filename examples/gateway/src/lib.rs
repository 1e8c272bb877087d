//! An OpenAI-compatible LLM gateway wired to the gatewayz monitoring stack.

pub mod account;
pub mod body;
pub mod config;
pub mod demo;
pub mod events;
pub mod keys;
pub mod openai;
pub mod proxy;
pub mod refusals;
pub mod server;
pub mod simulator;
pub mod sse;
pub mod store;
pub mod upstream;
