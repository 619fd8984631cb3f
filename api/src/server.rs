//! Assembling a running service from `Settings`: the embedded default (SQLite, in-process queue and
//! workers, local folder) or the API of a distributed deployment (PostgreSQL, RabbitMQ; workers are
//! separate `certscan worker` processes). Used by `certscan serve` and by the integration tests.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use certscan_pipeline::PdfEngine;
use certscan_workers::amqp::{AmqpConfig, AmqpPublisher};
use certscan_workers::job::{connect, JobContext};
use certscan_workers::message::JobMessage;
use certscan_workers::queue::{local_queue, run_local_worker, JobQueue};
use certscan_workers::Settings;

use crate::ops::Metrics;
use crate::AppState;

/// A service listening; [`RunningService::stop`] shuts it down gracefully.
#[derive(Debug)]
pub struct RunningService {
    pub addr: SocketAddr,
    pub state: AppState,
    shutdown: watch::Sender<bool>,
    server: JoinHandle<std::io::Result<()>>,
    workers: Vec<JoinHandle<()>>,
}

impl RunningService {
    /// Stops taking requests and jobs; in-process workers stop between jobs (an unfinished job stays
    /// `running` in the database and is re-enqueued at the next start).
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        let _ = self.server.await;
        for w in self.workers {
            let _ = w.await;
        }
        self.state.store.close().await;
    }

    /// Resolves when a shutdown was asked for.
    pub fn shutdown_handle(&self) -> watch::Sender<bool> {
        self.shutdown.clone()
    }
}

/// Starts the API (and, without an AMQP URL, the in-process workers) on `listen`.
pub async fn start(settings: &Settings, engine: &'static PdfEngine, listen: &str) -> Result<RunningService, String> {
    let addr: SocketAddr = listen.parse().map_err(|e| format!("listen address {listen:?}: {e}"))?;
    if settings.tokens.is_empty() && !addr.ip().is_loopback() {
        return Err(format!(
            "refusing to listen on {addr} without API tokens: configure tokens (CERTSCAN_TOKENS=name:role:token,…) or listen on 127.0.0.1"
        ));
    }
    let ctx: JobContext = connect(settings, engine).await?;
    let (shutdown, shutdown_rx) = watch::channel(false);
    let mut workers = Vec::new();
    let queue = match &settings.amqp_url {
        Some(url) => {
            let mut config = AmqpConfig::new(url);
            config.queue = settings.amqp_queue.clone();
            let publisher = AmqpPublisher::connect(&config).await.map_err(|e| format!("RabbitMQ: {e}"))?;
            JobQueue::Amqp(Arc::new(publisher))
        }
        None => {
            let (queue, receiver) = local_queue();
            for _ in 0..settings.workers.max(1) {
                workers.push(tokio::spawn(run_local_worker(ctx.clone(), receiver.clone(), shutdown_rx.clone())));
            }
            // Jobs a previous run accepted but did not finish.
            let unfinished = ctx.store.unfinished_jobs().await.map_err(|e| format!("database: {e}"))?;
            for job in unfinished {
                let mut message = JobMessage::new(&job.job_id, &job.exam_id, &job.object_key);
                message.application_id = job.application_id.clone();
                message.file_name = job.file_name.clone();
                message.submitted_by = job.submitted_by.clone();
                queue.publish(message).map_err(|e| e.to_string())?;
            }
            JobQueue::Local(queue)
        }
    };
    // The events outbox is delivered by the API process(es): to the topic exchange in a distributed
    // deployment, and to the webhook when one is configured (a lease keeps one process per sink).
    if let Some(url) = &settings.amqp_url {
        let sink = certscan_workers::events::ExchangeSink::new(url, &settings.events_exchange);
        workers.push(tokio::spawn(certscan_workers::events::run_relay(ctx.store.clone(), sink, shutdown_rx.clone())));
    }
    if let (Some(url), Some(secret)) = (&settings.events_webhook_url, &settings.events_webhook_secret) {
        let sink = certscan_workers::events::WebhookSink::new(url, &secret.0);
        workers.push(tokio::spawn(certscan_workers::events::run_relay(ctx.store.clone(), sink, shutdown_rx.clone())));
    }
    let state = AppState {
        store: ctx.store.clone(),
        objects: ctx.objects.clone(),
        queue,
        engine,
        template: ctx.template.clone(),
        calibration_dir: settings.calibration_dir(),
        tokens: Arc::new(settings.tokens.clone()),
        max_upload: (settings.max_upload_mb.max(1) * 1024 * 1024) as usize,
        metrics: Metrics::new(),
    };
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let mut rx = shutdown_rx.clone();
    let server = tokio::spawn(crate::serve(listener, state.clone(), async move {
        let _ = rx.wait_for(|stop| *stop).await;
    }));
    tracing::info!(%addr, queue = state.queue.kind(), objects = ctx.objects.location(), "certscan API listening");
    Ok(RunningService { addr, state, shutdown, server, workers })
}
