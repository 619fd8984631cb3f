//! RabbitMQ transport for scan jobs (lapin 4 on tokio): the queue topology, the publishing handle the
//! API holds, and the worker's consumer loop. Talks to the broker only; what a job does is the handler's
//! business, and this module acts on the [`Disposition`] it returns — ack after the result is committed,
//! park a transient failure in the delay queue `"{queue}.retry"` (per-message TTL; expired messages are
//! dead-lettered back to `"{queue}"`) and ack it, so no worker holds a message while it waits, reject into
//! `"{queue}.dead"` for a permanent one. No delivery is left unsettled: on shutdown the one in hand is
//! requeued for another worker.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures_util::StreamExt;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicGetOptions, BasicNackOptions, BasicPublishOptions, BasicQosOptions, BasicRejectOptions,
    ConfirmSelectOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::uri::AMQPUri;
use lapin::{BasicProperties, Channel, Confirmation, Connection, ConnectionProperties, Consumer};
use tokio::sync::watch;
use tracing::{debug, error, info, warn, Instrument};

use crate::message::JobMessage;

/// The job queue's name unless configured otherwise.
pub const DEFAULT_QUEUE: &str = "certscan.jobs";
/// Appended to the job queue's name to name its dead-letter queue.
pub const DEAD_LETTER_SUFFIX: &str = ".dead";
/// Appended to the job queue's name to name its delay queue: no consumer; a message waits there for its
/// own TTL (`expiration`), then RabbitMQ dead-letters it back to the job queue.
pub const RETRY_SUFFIX: &str = ".retry";

/// AMQP `delivery_mode` 2: the broker writes the message to disk, so it survives a broker restart.
const PERSISTENT: u8 = 2;
/// AMQP reply code for a normal close.
const REPLY_SUCCESS: u16 = 200;
/// A broker that accepts the TCP connection but never answers must not hang a caller forever.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Bounds the goodbye to a broker that may already be gone.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);
/// First wait before reconnecting; doubled after every failed attempt up to [`RECONNECT_MAX_DELAY`].
const RECONNECT_FIRST_DELAY: Duration = Duration::from_millis(100);
const RECONNECT_MAX_DELAY: Duration = Duration::from_secs(30);

/// The dead-letter queue of `queue`.
pub fn dead_letter_queue(queue: &str) -> String {
    format!("{queue}{DEAD_LETTER_SUFFIX}")
}

/// The delay queue of `queue`.
pub fn retry_queue(queue: &str) -> String {
    format!("{queue}{RETRY_SUFFIX}")
}

#[derive(Clone)]
pub struct AmqpConfig {
    /// Broker address, e.g. `amqp://guest:guest@127.0.0.1:5672/%2f` (the vhost URL-encoded).
    pub url: String,
    /// The job queue; default [`DEFAULT_QUEUE`]. Its dead-letter queue is `"{queue}.dead"`.
    pub queue: String,
    /// Deliveries the broker may send ahead of the acknowledgements; default 1. 0 is taken as 1, because
    /// AMQP reads 0 as "unbounded".
    pub prefetch: u16,
}

impl AmqpConfig {
    pub fn new(url: &str) -> Self {
        AmqpConfig { url: url.to_string(), queue: DEFAULT_QUEUE.to_string(), prefetch: 1 }
    }

    /// The dead-letter queue's name.
    pub fn dead_letter_queue(&self) -> String {
        dead_letter_queue(&self.queue)
    }

    /// The delay queue's name.
    pub fn retry_queue(&self) -> String {
        retry_queue(&self.queue)
    }
}

/// Debug without the password the URL may carry.
impl fmt::Debug for AmqpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AmqpConfig")
            .field("url", &redact_password(&self.url))
            .field("queue", &self.queue)
            .field("prefetch", &self.prefetch)
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AmqpError {
    /// The configured URL does not parse (the URL itself is not repeated: it may hold a password).
    #[error("the RabbitMQ URL is invalid: {reason}")]
    InvalidUrl { reason: String },
    #[error("{what} {value:?} cannot be sent to RabbitMQ: {reason}")]
    InvalidName { what: &'static str, value: String, reason: String },
    #[error("cannot connect to RabbitMQ: {0}")]
    Connect(#[source] lapin::Error),
    #[error("cannot connect to RabbitMQ: no answer within {0:?}")]
    ConnectTimeout(Duration),
    #[error("cannot open a RabbitMQ channel: {0}")]
    Channel(#[source] lapin::Error),
    #[error("cannot declare queue {queue}: {source}")]
    Declare { queue: String, source: lapin::Error },
    #[error("cannot enable publisher confirms: {0}")]
    Confirms(#[source] lapin::Error),
    #[error("cannot publish job {job_id}: {source}")]
    Publish { job_id: String, source: lapin::Error },
    /// The broker took the message but refused responsibility for it (publisher confirm nack).
    #[error("RabbitMQ refused job {job_id} (negative publisher confirm)")]
    Nacked { job_id: String },
    /// No queue is bound to the routing key: the job queue was deleted behind the publisher's back.
    #[error("RabbitMQ returned job {job_id} as unroutable: queue {queue} does not exist")]
    Unroutable { job_id: String, queue: String },
    #[error("cannot start consuming queue {queue}: {source}")]
    Consume { queue: String, source: lapin::Error },
    #[error("cannot read queue {queue}: {source}")]
    Inspect { queue: String, source: lapin::Error },
    #[error("cannot settle a message taken from queue {queue}: {source}")]
    Settle { queue: String, source: lapin::Error },
}

impl AmqpError {
    /// Failures that retrying cannot fix: a bad URL or name, or the broker refusing the topology (a queue
    /// already declared with other arguments). The consumer stops on these instead of retrying forever.
    fn is_permanent(&self) -> bool {
        match self {
            AmqpError::InvalidUrl { .. } | AmqpError::InvalidName { .. } => true,
            AmqpError::Declare { source, .. } => source.is_amqp_soft_error(),
            _ => false,
        }
    }
}

/// What the handler decided for one delivery.
#[derive(Debug, Clone, PartialEq)]
pub enum Disposition {
    /// The result is committed: acknowledge.
    Ack,
    /// Transient failure: the job comes back (as redelivered) after `after`, through the delay queue; the
    /// worker takes other jobs meanwhile.
    Retry { after: Duration },
    /// Permanent failure: reject without requeue, which dead-letters it into `"{queue}.dead"`.
    DeadLetter { reason: String },
}

fn short_string(what: &'static str, value: &str) -> Result<ShortString, AmqpError> {
    ShortString::try_new(value).map_err(|e| AmqpError::InvalidName { what, value: value.to_string(), reason: e.to_string() })
}

/// Connects as `"{role} {queue}"`, the name the management UI and `rabbitmqctl` show for the connection.
async fn connect(config: &AmqpConfig, role: &str) -> Result<Connection, AmqpError> {
    let uri: AMQPUri = config.url.parse().map_err(|reason| AmqpError::InvalidUrl { reason })?;
    let properties = ConnectionProperties::default().with_connection_name(format!("{role} {}", config.queue).into());
    match tokio::time::timeout(CONNECT_TIMEOUT, Connection::connect_uri(uri, properties)).await {
        Ok(connected) => connected.map_err(AmqpError::Connect),
        Err(_) => Err(AmqpError::ConnectTimeout(CONNECT_TIMEOUT)),
    }
}

/// Closes the channel, then the connection; a failure here only means the broker is already gone.
async fn close_quietly(channel: &Channel, connection: &Connection) {
    if channel.status().connected() {
        match tokio::time::timeout(CLOSE_TIMEOUT, channel.close(REPLY_SUCCESS, "OK".into())).await {
            Ok(Err(error)) => debug!(%error, "closing the RabbitMQ channel failed"),
            Err(_) => debug!("closing the RabbitMQ channel timed out"),
            Ok(Ok(())) => {}
        }
    }
    if connection.status().connected() {
        match tokio::time::timeout(CLOSE_TIMEOUT, connection.close(REPLY_SUCCESS, "OK".into())).await {
            Ok(Err(error)) => debug!(%error, "closing the RabbitMQ connection failed"),
            Err(_) => debug!("closing the RabbitMQ connection timed out"),
            Ok(Ok(())) => {}
        }
    }
}

/// Topology, idempotent: durable `"{queue}.dead"`, then durable `"{queue}"` whose rejected messages go
/// through the default exchange to `"{queue}.dead"`, then the durable delay queue `"{queue}.retry"`, no
/// consumer, whose expired messages go back to `"{queue}"`. The arguments are the same every time, or
/// RabbitMQ refuses the redeclare (PRECONDITION_FAILED).
pub async fn declare_topology(channel: &Channel, queue: &str) -> Result<(), AmqpError> {
    let dead = dead_letter_queue(queue);
    let queue_name = short_string("queue name", queue)?;
    let dead_name = short_string("queue name", &dead)?;
    // The dead-letter queue first, so nothing is dead-lettered into a queue that does not exist yet.
    channel
        .queue_declare(dead_name, QueueDeclareOptions::durable(), FieldTable::default())
        .await
        .map_err(|source| AmqpError::Declare { queue: dead.clone(), source })?;
    // Long strings: RabbitMQ does not accept the AMQP short-string type inside a field table.
    let mut arguments = FieldTable::default();
    arguments.insert("x-dead-letter-exchange".into(), AMQPValue::LongString(LongString::from("")));
    arguments.insert("x-dead-letter-routing-key".into(), AMQPValue::LongString(LongString::from(dead.as_str())));
    channel
        .queue_declare(queue_name, QueueDeclareOptions::durable(), arguments)
        .await
        .map_err(|source| AmqpError::Declare { queue: queue.to_string(), source })?;
    // Per-message TTL: RabbitMQ expires messages at the head of a queue only, so a retry waits at most
    // as long as the longest wait ahead of it (the backoff's cap, 60 s).
    let retry = retry_queue(queue);
    let mut arguments = FieldTable::default();
    arguments.insert("x-dead-letter-exchange".into(), AMQPValue::LongString(LongString::from("")));
    arguments.insert("x-dead-letter-routing-key".into(), AMQPValue::LongString(LongString::from(queue)));
    channel
        .queue_declare(short_string("queue name", &retry)?, QueueDeclareOptions::durable(), arguments)
        .await
        .map_err(|source| AmqpError::Declare { queue: retry.clone(), source })?;
    Ok(())
}

/// One connection with its publishing channel (publisher confirms on).
#[derive(Debug)]
struct PublishLink {
    connection: Connection,
    channel: Channel,
}

impl PublishLink {
    async fn open(config: &AmqpConfig) -> Result<PublishLink, AmqpError> {
        let connection = connect(config, "certscan-publisher").await?;
        let channel = connection.create_channel().await.map_err(AmqpError::Channel)?;
        declare_topology(&channel, &config.queue).await?;
        channel.confirm_select(ConfirmSelectOptions::default()).await.map_err(AmqpError::Confirms)?;
        Ok(PublishLink { connection, channel })
    }

    fn is_open(&self) -> bool {
        self.connection.status().connected() && self.channel.status().connected()
    }
}

/// Why one publish attempt failed.
enum PublishFailure {
    /// Connection or channel trouble: worth one reconnect.
    Broker(lapin::Error),
    Nacked,
    Unroutable,
}

/// A publishing handle (used by the API process). Declares the topology on connect.
pub struct AmqpPublisher {
    config: AmqpConfig,
    /// The link in use. A std mutex held only to clone or swap the `Arc`, never across an await.
    link: Mutex<Arc<PublishLink>>,
    /// Serialises reconnects, so concurrent publishers that all saw the broker go replace it once.
    reconnecting: tokio::sync::Mutex<()>,
}

impl fmt::Debug for AmqpPublisher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AmqpPublisher").field("config", &self.config).field("connected", &self.is_connected()).finish()
    }
}

impl AmqpPublisher {
    pub async fn connect(config: &AmqpConfig) -> Result<AmqpPublisher, AmqpError> {
        let link = PublishLink::open(config).await?;
        info!(queue = %config.queue, "connected to RabbitMQ for publishing");
        Ok(AmqpPublisher { config: config.clone(), link: Mutex::new(Arc::new(link)), reconnecting: tokio::sync::Mutex::new(()) })
    }

    fn current(&self) -> Arc<PublishLink> {
        self.link.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Replaces `broken` with a fresh link, unless another caller already did.
    async fn reconnect(&self, broken: &Arc<PublishLink>) -> Result<Arc<PublishLink>, AmqpError> {
        let _only_one = self.reconnecting.lock().await;
        let current = self.current();
        if !Arc::ptr_eq(&current, broken) && current.is_open() {
            return Ok(current);
        }
        let fresh = Arc::new(PublishLink::open(&self.config).await?);
        *self.link.lock().unwrap_or_else(PoisonError::into_inner) = fresh.clone();
        info!(queue = %self.config.queue, "reconnected to RabbitMQ for publishing");
        Ok(fresh)
    }

    /// The current link, reconnected first when it is known to be down.
    async fn open_link(&self) -> Result<Arc<PublishLink>, AmqpError> {
        let link = self.current();
        if link.is_open() {
            Ok(link)
        } else {
            self.reconnect(&link).await
        }
    }

    async fn publish_on(&self, link: &PublishLink, body: &[u8], properties: BasicProperties) -> Result<(), PublishFailure> {
        let confirm = link
            .channel
            .basic_publish(
                "".into(),
                self.config.queue.as_str().into(),
                // Mandatory: a job for a queue that no longer exists comes back instead of vanishing.
                BasicPublishOptions { mandatory: true, ..BasicPublishOptions::default() },
                body,
                properties,
            )
            .await
            .map_err(PublishFailure::Broker)?;
        match confirm.await.map_err(PublishFailure::Broker)? {
            Confirmation::Ack(None) | Confirmation::NotRequested => Ok(()),
            Confirmation::Ack(Some(_returned)) => Err(PublishFailure::Unroutable),
            Confirmation::Nack(_) => Err(PublishFailure::Nacked),
        }
    }

    /// Persistent (delivery_mode 2), content_type application/json, message_id = job_id; waits for the
    /// publisher confirm; reconnects once and retries if the connection was lost (broker restart). A retry
    /// after a lost confirm may deliver the job twice; jobs are idempotent by `job_id`.
    pub async fn publish(&self, message: &JobMessage) -> Result<(), AmqpError> {
        let job_id = message.job_id.as_str();
        // Checked before any network work, so a bad name is not mistaken for a broker failure.
        short_string("queue name", &self.config.queue)?;
        let properties = BasicProperties::default()
            .with_delivery_mode(PERSISTENT)
            .with_content_type("application/json".into())
            .with_message_id(short_string("job id", job_id)?);
        let body = message.to_json();
        let link = self.open_link().await?;
        let failure = match self.publish_on(&link, &body, properties.clone()).await {
            Ok(()) => {
                debug!(job_id, queue = %self.config.queue, "job published");
                return Ok(());
            }
            Err(failure) => failure,
        };
        let to_error = |failure: PublishFailure| match failure {
            PublishFailure::Broker(source) => AmqpError::Publish { job_id: job_id.to_string(), source },
            PublishFailure::Nacked => AmqpError::Nacked { job_id: job_id.to_string() },
            PublishFailure::Unroutable => AmqpError::Unroutable { job_id: job_id.to_string(), queue: self.config.queue.clone() },
        };
        let PublishFailure::Broker(lost) = failure else {
            return Err(to_error(failure));
        };
        warn!(job_id, error = %lost, "publishing failed; reconnecting to RabbitMQ and retrying once");
        let link = self.reconnect(&link).await?;
        self.publish_on(&link, &body, properties).await.map_err(to_error)?;
        debug!(job_id, queue = %self.config.queue, "job published after reconnecting");
        Ok(())
    }

    /// Ready messages in `queue`, by a passive declare on a channel of its own (a missing queue closes
    /// the channel it was asked on; the publishing channel must not be that one).
    async fn ready_messages(&self, queue: &str) -> Result<u32, AmqpError> {
        let name = short_string("queue name", queue)?;
        let link = self.open_link().await?;
        let channel = link.connection.create_channel().await.map_err(AmqpError::Channel)?;
        let declared = channel
            .queue_declare(name, QueueDeclareOptions { passive: true, ..QueueDeclareOptions::default() }, FieldTable::default())
            .await;
        if channel.status().connected() {
            if let Err(error) = channel.close(REPLY_SUCCESS, "OK".into()).await {
                debug!(%error, "closing the inspection channel failed");
            }
        }
        declared.map(|q| q.message_count()).map_err(|source| AmqpError::Inspect { queue: queue.to_string(), source })
    }

    /// Messages ready in the job queue (passive declare), for /metrics. Unacknowledged deliveries (jobs a
    /// worker holds) are not counted.
    pub async fn depth(&self) -> Result<u32, AmqpError> {
        self.ready_messages(&self.config.queue).await
    }

    /// Messages in the dead-letter queue.
    pub async fn dead_depth(&self) -> Result<u32, AmqpError> {
        self.ready_messages(&self.config.dead_letter_queue()).await
    }

    /// Messages waiting in the delay queue for their retry.
    pub async fn retry_depth(&self) -> Result<u32, AmqpError> {
        self.ready_messages(&self.config.retry_queue()).await
    }

    /// True while the connection is open (for /readyz).
    pub fn is_connected(&self) -> bool {
        self.current().is_open()
    }

    /// Closes the channel and the connection (graceful shutdown of the API process).
    pub async fn close(&self) {
        let link = self.current();
        close_quietly(&link.channel, &link.connection).await;
    }
}

/// Resolves once shutdown is asked for. A dropped sender can never ask again, so it counts as asking:
/// a worker nobody can stop is worse than one that stops.
async fn shutdown_requested(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// A consuming connection.
struct ConsumerSession {
    connection: Connection,
    channel: Channel,
    consumer: Consumer,
}

impl ConsumerSession {
    async fn open(config: &AmqpConfig) -> Result<ConsumerSession, AmqpError> {
        let queue = short_string("queue name", &config.queue)?;
        let connection = connect(config, "certscan-worker").await?;
        let channel = connection.create_channel().await.map_err(AmqpError::Channel)?;
        declare_topology(&channel, &config.queue).await?;
        let consume_error = |source| AmqpError::Consume { queue: config.queue.clone(), source };
        channel.basic_qos(config.prefetch.max(1), BasicQosOptions::default()).await.map_err(consume_error)?;
        // Retries are published on this channel into the delay queue: confirmed before the ack.
        channel.confirm_select(ConfirmSelectOptions::default()).await.map_err(AmqpError::Confirms)?;
        // An empty tag lets the broker name the consumer.
        let consumer =
            channel.basic_consume(queue, "".into(), BasicConsumeOptions::default(), FieldTable::default()).await.map_err(consume_error)?;
        Ok(ConsumerSession { connection, channel, consumer })
    }
}

/// Why a consuming session ended.
enum SessionEnd {
    Shutdown,
    /// The connection or channel went away; the string says how.
    Lost(String),
}

/// The outcome of an ack, nack or reject: `None` to go on, or the session's end.
fn settled(result: Result<bool, lapin::Error>) -> Option<SessionEnd> {
    match result {
        Ok(true) => None,
        // The acker was poisoned: the channel closed under us and the broker requeues the delivery itself.
        Ok(false) => Some(SessionEnd::Lost("the channel closed before the delivery was settled".to_string())),
        Err(error) => Some(SessionEnd::Lost(error.to_string())),
    }
}

async fn requeue(delivery: &Delivery) -> Option<SessionEnd> {
    settled(delivery.acker.nack(BasicNackOptions { multiple: false, requeue: true }).await)
}

async fn dead_letter(delivery: &Delivery) -> Option<SessionEnd> {
    settled(delivery.acker.reject(BasicRejectOptions { requeue: false }).await)
}

/// Parks a copy of the delivery in the delay queue for `after` (its `expiration`), confirmed by the
/// broker, then acknowledges the original: the worker holds nothing while the job waits. If the copy
/// cannot be parked, the delivery is requeued at once instead (a crash between the two leaves the job
/// twice in the queues; jobs are idempotent by id).
async fn park_for_retry(channel: &Channel, queue: &str, delivery: &Delivery, after: Duration) -> Option<SessionEnd> {
    let retry = retry_queue(queue);
    let properties =
        delivery.properties.clone().with_delivery_mode(PERSISTENT).with_expiration(after.as_millis().max(1).to_string().into());
    let parked = async {
        let confirm = channel
            .basic_publish(
                "".into(),
                retry.as_str().into(),
                BasicPublishOptions { mandatory: true, ..BasicPublishOptions::default() },
                &delivery.data,
                properties,
            )
            .await?;
        confirm.await
    }
    .await;
    match parked {
        Ok(Confirmation::Ack(None)) => settled(delivery.acker.ack(BasicAckOptions::default()).await),
        Ok(other) => {
            warn!(queue = %retry, confirmation = ?other, "the delay queue refused the retry; requeueing the job at once");
            requeue(delivery).await
        }
        Err(error) => {
            warn!(queue = %retry, %error, "cannot park the retry; requeueing the job at once");
            requeue(delivery).await
        }
    }
}

/// True when the message came back from the delay queue (its newest `x-death` says it expired there).
fn came_back_from_retry(properties: &BasicProperties) -> bool {
    death_reason(properties).as_deref() == Some("expired")
}

/// Handles one delivery to the end: parse, run the handler, settle. `None` means take the next one.
async fn handle_delivery<H, Fut>(
    channel: &Channel,
    queue: &str,
    handler: &H,
    shutdown: &mut watch::Receiver<bool>,
    delivery: Delivery,
) -> Option<SessionEnd>
where
    H: Fn(JobMessage, bool) -> Fut + Send + Sync,
    Fut: std::future::Future<Output = Disposition> + Send,
{
    let message = match JobMessage::from_json(&delivery.data) {
        Ok(message) => message,
        Err(reason) => {
            let message_id = delivery.properties.message_id().as_ref().map(ShortString::to_string);
            warn!(queue, message_id, %reason, "malformed job message; dead-lettering it");
            return dead_letter(&delivery).await;
        }
    };
    // A job back from the delay queue is a fresh delivery to the broker, but handled before.
    let redelivered = delivery.redelivered || came_back_from_retry(&delivery.properties);
    let span = tracing::info_span!("job", job_id = %message.job_id, exam_id = %message.exam_id, queue);
    async move {
        debug!(redelivered, "handling job");
        // The handler first: a job that finished as shutdown was asked for is acted on, not thrown away.
        let disposition = tokio::select! {
            biased;
            disposition = handler(message, redelivered) => disposition,
            () = shutdown_requested(shutdown) => {
                info!("shutting down while the job runs; requeueing it for another worker");
                requeue(&delivery).await;
                return Some(SessionEnd::Shutdown);
            }
        };
        match disposition {
            Disposition::Ack => {
                let end = settled(delivery.acker.ack(BasicAckOptions::default()).await);
                if end.is_none() {
                    debug!("job acknowledged");
                }
                end
            }
            Disposition::Retry { after } => {
                info!(retry_in_ms = after.as_millis() as u64, "transient failure; the job waits in the delay queue");
                park_for_retry(channel, queue, &delivery, after).await
            }
            Disposition::DeadLetter { reason } => {
                warn!(%reason, "permanent failure; dead-lettering the job");
                dead_letter(&delivery).await
            }
        }
    }
    .instrument(span)
    .await
}

/// Takes deliveries one at a time until shutdown or until the connection is lost.
async fn consume<H, Fut>(config: &AmqpConfig, handler: &H, shutdown: &mut watch::Receiver<bool>, session: ConsumerSession) -> SessionEnd
where
    H: Fn(JobMessage, bool) -> Fut + Send + Sync,
    Fut: std::future::Future<Output = Disposition> + Send,
{
    let ConsumerSession { connection, channel, mut consumer } = session;
    let end = loop {
        let next = tokio::select! {
            biased;
            () = shutdown_requested(shutdown) => break SessionEnd::Shutdown,
            next = consumer.next() => next,
        };
        let delivery = match next {
            Some(Ok(delivery)) => delivery,
            Some(Err(error)) => break SessionEnd::Lost(error.to_string()),
            None => break SessionEnd::Lost("the broker cancelled the consumer".to_string()),
        };
        if let Some(end) = handle_delivery(&channel, &config.queue, handler, shutdown, delivery).await {
            break end;
        }
    };
    // Closing the channel also returns any prefetched, unhandled deliveries to the queue.
    close_quietly(&channel, &connection).await;
    end
}

fn reconnect_delay(failed_attempts: u32) -> Duration {
    RECONNECT_FIRST_DELAY.saturating_mul(1u32 << failed_attempts.min(16)).min(RECONNECT_MAX_DELAY)
}

/// The worker loop. Connects (retrying with capped exponential backoff while the broker is down,
/// logging each failure), declares the topology, sets basic_qos(prefetch), consumes. For each delivery:
/// - body not a valid JobMessage (MessageError) -> reject without requeue (dead-letter), log the reason;
/// - otherwise call `handler(message, redelivered)` and act on its Disposition (ack only on Ack).
///
/// Runs handlers one at a time per consumer (prefetch bounds what the broker sends ahead).
/// When the connection drops (broker restart), reconnect and go on.
/// When `shutdown` turns true (or its sender is dropped): stop taking deliveries; if a handler is running,
/// stop awaiting it (drop its future) and nack that delivery WITH requeue so another worker takes it;
/// close the channel and connection; return Ok(()).
///
/// Returns an error only for what retrying cannot fix: an invalid URL or queue name, or the broker
/// refusing the topology (the queue exists with other arguments).
pub async fn run_consumer<H, Fut>(config: AmqpConfig, handler: H, mut shutdown: watch::Receiver<bool>) -> Result<(), AmqpError>
where
    H: Fn(JobMessage, bool) -> Fut + Send + Sync,
    Fut: std::future::Future<Output = Disposition> + Send,
{
    let mut failed_attempts: u32 = 0;
    loop {
        let opened = tokio::select! {
            biased;
            () = shutdown_requested(&mut shutdown) => return Ok(()),
            opened = ConsumerSession::open(&config) => opened,
        };
        let session = match opened {
            Ok(session) => session,
            Err(error) if error.is_permanent() => {
                error!(queue = %config.queue, %error, "cannot consume jobs; giving up");
                return Err(error);
            }
            Err(error) => {
                let delay = reconnect_delay(failed_attempts);
                failed_attempts = failed_attempts.saturating_add(1);
                warn!(queue = %config.queue, attempt = failed_attempts, retry_in_ms = delay.as_millis() as u64, %error,
                    "cannot reach RabbitMQ; retrying");
                tokio::select! {
                    biased;
                    () = shutdown_requested(&mut shutdown) => return Ok(()),
                    () = tokio::time::sleep(delay) => continue,
                }
            }
        };
        failed_attempts = 0;
        info!(queue = %config.queue, prefetch = config.prefetch.max(1), "consuming jobs");
        match consume(&config, &handler, &mut shutdown, session).await {
            SessionEnd::Shutdown => {
                info!(queue = %config.queue, "stopped consuming jobs");
                return Ok(());
            }
            SessionEnd::Lost(reason) => warn!(queue = %config.queue, %reason, "lost the RabbitMQ connection; reconnecting"),
        }
    }
}

/// The `reason` of the newest `x-death` entry RabbitMQ stamps on a dead-lettered message ("rejected",
/// "expired", ...).
fn death_reason(properties: &BasicProperties) -> Option<String> {
    let headers = properties.headers().as_ref()?;
    let deaths = headers.inner().get("x-death")?.as_array()?;
    let newest = deaths.as_slice().first()?.as_field_table()?;
    match newest.inner().get("reason")? {
        AMQPValue::LongString(reason) => Some(reason.to_string()),
        AMQPValue::ShortString(reason) => Some(reason.to_string()),
        _ => None,
    }
}

/// Takes one message off `"{queue}.dead"` (acknowledging it) and returns its body and the `x-death`
/// reason, if any. For tests and operators.
pub async fn get_dead_letter(config: &AmqpConfig) -> Result<Option<(Vec<u8>, Option<String>)>, AmqpError> {
    let dead = config.dead_letter_queue();
    let name = short_string("queue name", &dead)?;
    let connection = connect(config, "certscan-dead-letter").await?;
    let channel = connection.create_channel().await.map_err(AmqpError::Channel)?;
    let result = async {
        let Some(message) = channel
            .basic_get(name, BasicGetOptions { no_ack: false })
            .await
            .map_err(|source| AmqpError::Inspect { queue: dead.clone(), source })?
        else {
            return Ok(None);
        };
        message.delivery.acker.ack(BasicAckOptions::default()).await.map_err(|source| AmqpError::Settle { queue: dead.clone(), source })?;
        let reason = death_reason(&message.delivery.properties);
        Ok(Some((message.delivery.data, reason)))
    }
    .await;
    close_quietly(&channel, &connection).await;
    result
}

/// Deletes the job queue, its delay queue and its dead-letter queue, messages and all (test cleanup). Failures are
/// logged, not returned: there is nothing a cleanup can do about them.
pub async fn delete_queues(config: &AmqpConfig) {
    let connection = match connect(config, "certscan-cleanup").await {
        Ok(connection) => connection,
        Err(error) => {
            warn!(queue = %config.queue, %error, "cannot delete queues");
            return;
        }
    };
    for queue in [config.retry_queue(), config.queue.clone(), config.dead_letter_queue()] {
        let Ok(name) = short_string("queue name", &queue) else { continue };
        // A channel per queue: a failed delete closes the channel it was asked on.
        let deleted = match connection.create_channel().await {
            Ok(channel) => {
                let deleted = channel.queue_delete(name, QueueDeleteOptions::default()).await;
                if channel.status().connected() {
                    let _ = channel.close(REPLY_SUCCESS, "OK".into()).await;
                }
                deleted
            }
            Err(error) => Err(error),
        };
        if let Err(error) = deleted {
            warn!(queue, %error, "cannot delete queue");
        }
    }
    if let Err(error) = connection.close(REPLY_SUCCESS, "OK".into()).await {
        debug!(%error, "closing the cleanup connection failed");
    }
}

/// `amqp://user:secret@host/` → `amqp://user:***@host/`, for logs and Debug output.
fn redact_password(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else { return url.to_string() };
    let authority_end = url[scheme_end..].find('/').map_or(url.len(), |i| scheme_end + i);
    let Some(at) = url[scheme_end..authority_end].rfind('@').map(|i| scheme_end + i) else { return url.to_string() };
    match url[scheme_end..at].find(':').map(|i| scheme_end + i) {
        Some(colon) => format!("{}:***{}", &url[..colon], &url[at..]),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_never_shows_in_debug_output() {
        let config = AmqpConfig::new("amqp://guest:s3cret@127.0.0.1:5672/%2f");
        let shown = format!("{config:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("amqp://guest:***@127.0.0.1:5672/%2f"), "{shown}");
        assert_eq!(redact_password("amqp://127.0.0.1:5672/%2f"), "amqp://127.0.0.1:5672/%2f");
    }

    #[test]
    fn defaults_are_one_bounded_queue_and_its_dead_letter_queue() {
        let config = AmqpConfig::new("amqp://127.0.0.1");
        assert_eq!(config.queue, "certscan.jobs");
        assert_eq!(config.dead_letter_queue(), "certscan.jobs.dead");
        assert_eq!(config.prefetch, 1);
    }

    #[test]
    fn reconnect_delays_grow_and_stop_at_the_cap() {
        assert_eq!(reconnect_delay(0), Duration::from_millis(100));
        assert_eq!(reconnect_delay(1), Duration::from_millis(200));
        assert_eq!(reconnect_delay(40), RECONNECT_MAX_DELAY);
    }

    #[test]
    fn the_death_reason_is_read_from_the_newest_x_death_entry() {
        let mut death = FieldTable::default();
        death.insert("reason".into(), AMQPValue::LongString("rejected".into()));
        let mut headers = FieldTable::default();
        headers.insert("x-death".into(), AMQPValue::FieldArray(vec![AMQPValue::FieldTable(death)].into()));
        let properties = BasicProperties::default().with_headers(headers);
        assert_eq!(death_reason(&properties).as_deref(), Some("rejected"));
        assert_eq!(death_reason(&BasicProperties::default()), None);
    }
}
