//! The integration suite: one test binary, one module per area (ripgrep's tests/tests.rs).

mod support;

mod bad_input;
mod calibrate;
mod generate;
mod recognition;
