//! An OpenAI-compatible LLM gateway wired to the gatewayz monitoring stack.

pub mod account;
pub mod body;
pub mod config;
pub mod customer_page;
pub mod demo;
pub mod events;
pub mod keys;
pub mod ledger;
pub mod openai;
pub mod postgres;
pub mod proxy;
pub mod refusals;
pub mod report;
pub mod reservations;
pub mod schema;
pub mod server;
pub mod simulator;
pub mod sql;
pub mod sse;
pub mod store;
pub mod upstream;
pub mod usage_api;
