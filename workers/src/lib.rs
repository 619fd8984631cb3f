//! The adapter around the recognition core: configuration, storage (database and objects), the job
//! queue (RabbitMQ or in-process) and the job executor. The core never reads configuration; this crate
//! resolves it and passes values in.
//!
//! # Layout
//! - [`settings`]: the one typed `Settings`, layered defaults → optional file → `CERTSCAN_*` variables.
//! - [`local`]: the command line's embedded store (the FIS FRDO import of each exam, as JSON).
//! - [`message`]: the versioned job message (`docs/job-message.schema.json`).
//! - [`amqp`]: RabbitMQ topology, publishing and the consumer loop (ack after commit, dead-lettering).
//! - [`queue`]: the queue the API publishes to: RabbitMQ, or in-process for the embedded default.
//! - [`store`]: the database (PostgreSQL or SQLite through one set of queries) and its migrations.
//! - [`objects`]: uploaded scans and per-page PDFs in a local folder or an S3-compatible bucket.
//! - [`job`]: executing one job: fetch, recognise, store, idempotently.
//! - [`events`]: delivering the events outbox to the RabbitMQ topic exchange and a signed webhook.

pub mod amqp;
pub mod events;
pub mod job;
pub mod local;
pub mod message;
pub mod objects;
pub mod queue;
pub mod settings;
pub mod store;

pub use message::{JobMessage, MessageError, JOB_MESSAGE_VERSION};
pub use settings::{Settings, SettingsError};
