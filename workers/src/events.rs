//! Delivering the events outbox (`store::events`) beyond `GET /v1/events`: to the RabbitMQ topic exchange
//! `certscan.events` (routing key = the event type) in a distributed deployment, and to a webhook
//! (`POST`, `X-Certscan-Signature: sha256=<hex HMAC-SHA256 of the body>`). Each sink is a relay that
//! reads the outbox after its cursor, delivers in `seq` order and advances the cursor only after a
//! delivery succeeded (a publisher confirm, a 2xx), so an event is never lost when a process dies between
//! the commit and the delivery (it is delivered again: at least once, `seq` tells a receiver what it has
//! seen) and never delivered out of order. A failing sink is retried with capped exponential backoff.

use std::time::Duration;

use backon::BackoffBuilder;
use hmac::{Hmac, Mac};
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Confirmation, Connection, ConnectionProperties, ExchangeKind};
use sha2::Sha256;
use tokio::sync::watch;
use tracing::{info, warn};

use crate::store::{Event, Store};

/// The topic exchange events are published to.
pub const EVENTS_EXCHANGE: &str = "certscan.events";
/// The signature header of webhook deliveries.
pub const SIGNATURE_HEADER: &str = "X-Certscan-Signature";
/// Events read per round.
const BATCH: i64 = 100;
/// How often an idle relay looks for new events.
const POLL: Duration = Duration::from_millis(500);
/// A webhook that does not answer within this is a failed delivery.
const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeliveryError {
    #[error("RabbitMQ: {0}")]
    Amqp(#[from] lapin::Error),
    #[error("RabbitMQ refused event {seq} (negative publisher confirm)")]
    Nacked { seq: i64 },
    #[error("the RabbitMQ URL is invalid: {0}")]
    InvalidUrl(String),
    #[error("webhook: {0}")]
    Http(#[from] reqwest::Error),
    #[error("webhook answered {status} to event {seq}")]
    Status { seq: i64, status: u16 },
}

/// `sha256=<hex>` of the body under `secret`, as the webhook's signature header carries it.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The body of an event as sinks get it (the same JSON as `GET /v1/events` gives one event).
pub fn event_body(event: &Event) -> Vec<u8> {
    serde_json::to_vec(event).expect("an event serialises")
}

/// A place events go.
#[allow(async_fn_in_trait)]
pub trait Sink {
    /// The cursor's name in `event_cursors`.
    fn name(&self) -> String;
    async fn deliver(&mut self, event: &Event) -> Result<(), DeliveryError>;
}

/// The topic exchange, with publisher confirms; reconnects after a failure.
#[derive(Debug)]
pub struct ExchangeSink {
    url: String,
    exchange: String,
    link: Option<(Connection, Channel)>,
}

impl ExchangeSink {
    pub fn new(url: &str, exchange: &str) -> ExchangeSink {
        ExchangeSink { url: url.to_string(), exchange: exchange.to_string(), link: None }
    }

    async fn channel(&mut self) -> Result<&Channel, DeliveryError> {
        let open = self.link.as_ref().is_some_and(|(c, ch)| c.status().connected() && ch.status().connected());
        if !open {
            let uri: lapin::uri::AMQPUri = self.url.parse().map_err(DeliveryError::InvalidUrl)?;
            let properties = ConnectionProperties::default().with_connection_name("certscan-events".into());
            let connection = tokio::time::timeout(Duration::from_secs(10), Connection::connect_uri(uri, properties))
                .await
                .map_err(|_| DeliveryError::InvalidUrl("no answer from the broker within 10 s".into()))??;
            let channel = connection.create_channel().await?;
            channel
                .exchange_declare(
                    self.exchange.as_str().into(),
                    ExchangeKind::Topic,
                    ExchangeDeclareOptions { durable: true, ..Default::default() },
                    FieldTable::default(),
                )
                .await?;
            channel.confirm_select(ConfirmSelectOptions::default()).await?;
            self.link = Some((connection, channel));
        }
        Ok(&self.link.as_ref().expect("just opened").1)
    }
}

impl Sink for ExchangeSink {
    fn name(&self) -> String {
        format!("amqp:{}", self.exchange)
    }

    async fn deliver(&mut self, event: &Event) -> Result<(), DeliveryError> {
        let body = event_body(event);
        let exchange = self.exchange.clone();
        let result = async {
            let channel = self.channel().await?;
            let properties = BasicProperties::default()
                .with_content_type("application/json".into())
                .with_delivery_mode(2)
                .with_message_id(event.seq.to_string().into())
                .with_type(event.event_type.as_str().into());
            let confirm = channel
                .basic_publish(
                    exchange.as_str().into(),
                    event.event_type.as_str().into(),
                    BasicPublishOptions::default(),
                    &body,
                    properties,
                )
                .await?
                .await?;
            match confirm {
                Confirmation::Nack(_) => Err(DeliveryError::Nacked { seq: event.seq }),
                _ => Ok(()),
            }
        }
        .await;
        if result.is_err() {
            self.link = None;
        }
        result
    }
}

/// A webhook URL; each event is POSTed as JSON with its signature.
#[derive(Debug)]
pub struct WebhookSink {
    url: String,
    secret: Vec<u8>,
    http: reqwest::Client,
}

impl WebhookSink {
    pub fn new(url: &str, secret: &str) -> WebhookSink {
        let http = reqwest::Client::builder().timeout(WEBHOOK_TIMEOUT).build().expect("an HTTP client with a timeout builds");
        WebhookSink { url: url.to_string(), secret: secret.as_bytes().to_vec(), http }
    }
}

impl Sink for WebhookSink {
    fn name(&self) -> String {
        "webhook".into()
    }

    async fn deliver(&mut self, event: &Event) -> Result<(), DeliveryError> {
        let body = event_body(event);
        let response = self
            .http
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, signature(&self.secret, &body))
            .header("X-Certscan-Event", event.event_type.as_str())
            .header("X-Certscan-Seq", event.seq.to_string())
            .body(body)
            .send()
            .await?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(DeliveryError::Status { seq: event.seq, status: status.as_u16() })
        }
    }
}

/// Runs a sink until `shutdown` turns true: deliver, and on failure wait with capped exponential backoff
/// (1 s, 2 s, … 60 s, with jitter) before trying the same event again.
pub async fn run_relay<S: Sink>(store: Store, mut sink: S, mut shutdown: watch::Receiver<bool>) {
    let name = sink.name();
    // Who holds the sink's lease (one process delivers a sink at a time).
    let holder = uuid::Uuid::new_v4().simple().to_string();
    info!(sink = %name, "delivering events");
    let mut backoff = new_backoff();
    loop {
        if *shutdown.borrow() {
            return;
        }
        let wait = match relay_round(&store, &mut sink, &holder).await {
            Ok((_, None)) => {
                backoff = new_backoff();
                POLL
            }
            Ok((_, Some(error))) => {
                let wait = backoff.next().unwrap_or(Duration::from_secs(60));
                warn!(sink = %name, %error, retry_in = ?wait, "event delivery failed");
                wait
            }
            Err(error) => {
                let wait = backoff.next().unwrap_or(Duration::from_secs(60));
                warn!(sink = %name, %error, retry_in = ?wait, "reading the events outbox failed");
                wait
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => {}
        }
    }
}

fn new_backoff() -> impl Iterator<Item = Duration> {
    backon::ExponentialBuilder::default()
        .with_min_delay(Duration::from_secs(1))
        .with_max_delay(Duration::from_secs(60))
        .with_jitter()
        .without_max_times()
        .build()
}

/// Delivers what waits in the outbox to `sink`, in order; `(delivered, failure)`.
/// `holder` names this process's lease on the sink: while another process holds it, nothing is done.
pub async fn relay_round<S: Sink>(
    store: &Store,
    sink: &mut S,
    holder: &str,
) -> Result<(usize, Option<DeliveryError>), crate::store::StoreError> {
    let name = sink.name();
    let mut total = 0;
    loop {
        let Some(events) = store.pending_events(&name, holder, BATCH).await? else { return Ok((total, None)) };
        if events.is_empty() {
            return Ok((total, None));
        }
        for event in events {
            if let Err(e) = sink.deliver(&event).await {
                return Ok((total, Some(e)));
            }
            if !store.advance_event_cursor(&name, holder, event.seq).await? {
                // The lease was lost to another process: it goes on from the cursor.
                return Ok((total, None));
            }
            total += 1;
        }
    }
}
