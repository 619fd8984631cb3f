//! The integration suite: one test binary, one module per area (ripgrep's tests/tests.rs).

mod support;

mod amqp;
mod bad_input;
mod calibrate;
mod distributed;
mod generate;
mod hardening;
mod ledger;
mod life;
mod openapi;
mod properties;
mod recognition;
mod service;
mod store;
