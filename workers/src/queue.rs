//! The queue the API publishes jobs to: RabbitMQ for a distributed deployment, or an in-process channel
//! for the embedded default (`certscan serve` with no configuration). The in-process queue keeps nothing
//! itself: jobs are rows in the database, and the embedded server re-enqueues unfinished ones at start.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::{mpsc, watch, Mutex};

use crate::amqp::{AmqpError, AmqpPublisher, Disposition};
use crate::job::{handle_job, JobContext};
use crate::message::JobMessage;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueueError {
    #[error(transparent)]
    Amqp(#[from] AmqpError),
    #[error("the in-process queue is shut down")]
    Closed,
}

/// Where jobs are published.
#[derive(Debug, Clone)]
pub enum JobQueue {
    Local(LocalQueue),
    Amqp(Arc<AmqpPublisher>),
}

impl JobQueue {
    pub async fn publish(&self, message: &JobMessage) -> Result<(), QueueError> {
        match self {
            JobQueue::Local(q) => q.publish(message.clone()),
            JobQueue::Amqp(p) => Ok(p.publish(message).await?),
        }
    }

    /// Jobs waiting to be taken (for `/metrics`); `None` when the broker cannot say.
    pub async fn depth(&self) -> Option<u64> {
        match self {
            JobQueue::Local(q) => Some(q.depth.load(Ordering::Relaxed) as u64),
            JobQueue::Amqp(p) => p.depth().await.ok().map(u64::from),
        }
    }

    /// For `/readyz`.
    pub fn is_ready(&self) -> bool {
        match self {
            JobQueue::Local(q) => !q.sender.is_closed(),
            JobQueue::Amqp(p) => p.is_connected(),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            JobQueue::Local(_) => "in-process",
            JobQueue::Amqp(_) => "amqp",
        }
    }
}

/// The publishing side of the in-process queue.
#[derive(Debug, Clone)]
pub struct LocalQueue {
    sender: mpsc::UnboundedSender<JobMessage>,
    depth: Arc<AtomicUsize>,
}

/// The consuming side, shared by the in-process workers.
#[derive(Debug, Clone)]
pub struct LocalReceiver {
    receiver: Arc<Mutex<mpsc::UnboundedReceiver<JobMessage>>>,
    depth: Arc<AtomicUsize>,
    sender: mpsc::UnboundedSender<JobMessage>,
}

pub fn local_queue() -> (LocalQueue, LocalReceiver) {
    let (sender, receiver) = mpsc::unbounded_channel();
    let depth = Arc::new(AtomicUsize::new(0));
    (LocalQueue { sender: sender.clone(), depth: depth.clone() }, LocalReceiver { receiver: Arc::new(Mutex::new(receiver)), depth, sender })
}

impl LocalQueue {
    pub fn publish(&self, message: JobMessage) -> Result<(), QueueError> {
        self.depth.fetch_add(1, Ordering::Relaxed);
        self.sender.send(message).map_err(|_| {
            self.depth.fetch_sub(1, Ordering::Relaxed);
            QueueError::Closed
        })
    }
}

/// One in-process worker: takes jobs until `shutdown` turns true. A transient failure puts the job back
/// after its backoff; a permanent one is already recorded on the job by [`handle_job`].
pub async fn run_local_worker(ctx: JobContext, queue: LocalReceiver, mut shutdown: watch::Receiver<bool>) {
    loop {
        let message = {
            let mut receiver = queue.receiver.lock().await;
            tokio::select! {
                m = receiver.recv() => m,
                _ = shutdown.wait_for(|stop| *stop) => None,
            }
        };
        let Some(message) = message else { return };
        queue.depth.fetch_sub(1, Ordering::Relaxed);
        let job = handle_job(&ctx, message.clone(), false);
        let disposition = tokio::select! {
            d = job => d,
            // Unfinished work stays `running` in the database; the next start re-enqueues it.
            _ = shutdown.wait_for(|stop| *stop) => return,
        };
        match disposition {
            Disposition::Ack | Disposition::DeadLetter { .. } => {}
            Disposition::Retry { after } => {
                let sender = queue.sender.clone();
                let depth = queue.depth.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(after).await;
                    depth.fetch_add(1, Ordering::Relaxed);
                    if sender.send(message).is_err() {
                        depth.fetch_sub(1, Ordering::Relaxed);
                    }
                });
            }
        }
    }
}
