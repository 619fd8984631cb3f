//! The adapter around the recognition core: configuration now; the AMQP consumer, storage and telemetry
//! as the service grows. The core never reads configuration; this crate resolves it and passes values in.
//!
//! # Layout
//! - [`settings`]: the one typed `Settings`, layered defaults → optional file → `CERTSCAN_*` variables.
//! - [`local`]: the command line's embedded store (the FIS FRDO import of each exam, as JSON).

pub mod local;
pub mod settings;

pub use settings::{Settings, SettingsError};
