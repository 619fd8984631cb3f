//! `certscan serve` and `certscan worker`: the service's processes. Wiring only; the service lives in
//! the api and workers crates.

use anyhow::{Context, Result};
use clap::Args;
use tokio::sync::watch;

use certscan_pipeline::PdfEngine;
use certscan_workers::amqp::{run_consumer, AmqpConfig};
use certscan_workers::job::{connect, handle_job};
use certscan_workers::Settings;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on. Default: the `listen` setting (127.0.0.1:8080).
    #[arg(long)]
    listen: Option<String>,
    /// Data folder (SQLite database, object folder). Default: the `data_dir` setting.
    #[arg(long)]
    data_dir: Option<std::path::PathBuf>,
}

#[derive(Debug, Args)]
pub struct WorkerArgs {}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")
}

/// Turns true on Ctrl-C or SIGTERM.
fn shutdown_on_signal() -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
        #[cfg(unix)]
        tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
        tracing::info!("shutting down");
        let _ = tx.send(true);
    });
    rx
}

pub fn serve(settings: &Settings, args: &ServeArgs) -> Result<()> {
    let mut settings = settings.clone();
    if let Some(dir) = &args.data_dir {
        settings.data_dir = dir.clone();
    }
    let listen = args.listen.clone().unwrap_or_else(|| settings.listen.clone());
    let engine = PdfEngine::bind(&settings.pdfium_library()?)?;
    runtime()?.block_on(async move {
        let service = certscan_api::server::start(&settings, engine, &listen).await.map_err(anyhow::Error::msg)?;
        eprintln!(
            "certscan listening on http://{} ({} queue, {}); Ctrl-C stops",
            service.addr,
            service.state.queue.kind(),
            if settings.tokens.is_empty() { "no tokens: loopback only" } else { "bearer tokens required" }
        );
        let mut stop = shutdown_on_signal();
        let _ = stop.wait_for(|s| *s).await;
        service.stop().await;
        Ok(())
    })
}

pub fn worker(settings: &Settings, _args: &WorkerArgs) -> Result<()> {
    let url = settings
        .amqp_url
        .clone()
        .context("`certscan worker` takes jobs from RabbitMQ: set CERTSCAN_AMQP_URL (and CERTSCAN_DATABASE_URL); without them `certscan serve` runs its own workers")?;
    let engine = PdfEngine::bind(&settings.pdfium_library()?)?;
    let settings = settings.clone();
    runtime()?.block_on(async move {
        let ctx = connect(&settings, engine).await.map_err(anyhow::Error::msg)?;
        let mut config = AmqpConfig::new(&url);
        config.queue = settings.amqp_queue.clone();
        config.prefetch = settings.amqp_prefetch.max(1);
        let shutdown = shutdown_on_signal();
        eprintln!("certscan worker taking jobs from {} (queue {})", certscan_workers::store::redact(&url), config.queue);
        let handler_ctx = ctx.clone();
        run_consumer(config, move |message, redelivered| {
            let ctx = handler_ctx.clone();
            async move { handle_job(&ctx, message, redelivered).await }
        }, shutdown)
        .await
        .context("the RabbitMQ consumer stopped")?;
        ctx.store.close().await;
        Ok(())
    })
}
