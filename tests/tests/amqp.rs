//! The RabbitMQ transport against a real broker (`CERTSCAN_TEST_AMQP_URL`, default the local guest
//! account): delivery and ack, dead-lettering by the handler and of malformed bodies, retry through the
//! delay queue (the worker goes on meanwhile), requeueing on shutdown, and reconnecting after the broker
//! closes the worker's connection. Each test owns a `certscan.test.<uuid>` queue pair and deletes it,
//! even when it fails.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use certscan_workers::amqp::{get_dead_letter, run_consumer, AmqpConfig, AmqpError, AmqpPublisher, Disposition};

use crate::support::TestQueues;
use certscan_workers::JobMessage;
use lapin::options::BasicPublishOptions;
use lapin::{BasicProperties, Connection, ConnectionProperties};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::{timeout, Instant};

/// Generous: the broker may share the machine with builds.
const DEADLINE: Duration = Duration::from_secs(20);

fn job() -> JobMessage {
    let job_id = format!("job-{}", uuid::Uuid::new_v4().simple());
    JobMessage::new(&job_id, "EX-1", &format!("scans/{job_id}.pdf"))
}

/// A consumer running in the background, and the switch that stops it.
struct RunningConsumer {
    stop: watch::Sender<bool>,
    task: JoinHandle<Result<(), AmqpError>>,
}

impl RunningConsumer {
    fn start<H, Fut>(config: &AmqpConfig, handler: H) -> RunningConsumer
    where
        H: Fn(JobMessage, bool) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Disposition> + Send + 'static,
    {
        let (stop, shutdown) = watch::channel(false);
        let task = tokio::spawn(run_consumer(config.clone(), handler, shutdown));
        RunningConsumer { stop, task }
    }

    async fn shut_down(self) {
        self.stop.send_replace(true);
        let finished = timeout(DEADLINE, self.task).await.expect("the consumer stops within the deadline");
        finished.expect("the consumer task does not panic").expect("the consumer returns Ok on shutdown");
    }
}

/// Starts a consumer whose handler reports every call (job id, redelivered) and answers what `decide` says.
fn start_reporting(
    config: &AmqpConfig,
    decide: impl Fn(&JobMessage, bool) -> Disposition + Send + Sync + 'static,
) -> (RunningConsumer, mpsc::UnboundedReceiver<(String, bool)>) {
    let decide = Arc::new(decide);
    let (calls, received) = mpsc::unbounded_channel();
    let handler = move |message: JobMessage, redelivered: bool| {
        let (decide, calls) = (decide.clone(), calls.clone());
        // Reports when the consumer runs the future, not when it merely creates it.
        async move {
            let disposition = decide(&message, redelivered);
            let _ = calls.send((message.job_id, redelivered));
            disposition
        }
    };
    (RunningConsumer::start(config, handler), received)
}

async fn next_call(calls: &mut mpsc::UnboundedReceiver<(String, bool)>) -> (String, bool) {
    timeout(DEADLINE, calls.recv()).await.expect("the handler is called within the deadline").expect("the consumer is running")
}

/// Polls `depth` until it reads `expected`, or fails at the deadline.
async fn wait_for_depth(publisher: &AmqpPublisher, expected: u32, dead: bool) {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let depth = if dead { publisher.dead_depth().await } else { publisher.depth().await }.expect("the queue depth is readable");
        if depth == expected {
            return;
        }
        assert!(Instant::now() < deadline, "queue depth (dead: {dead}) stayed at {depth}, expected {expected}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Polls the dead-letter queue until a message is there, or fails at the deadline.
async fn wait_for_dead_letter(config: &AmqpConfig) -> (Vec<u8>, Option<String>) {
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(dead) = get_dead_letter(config).await.expect("the dead-letter queue is readable") {
            return dead;
        }
        assert!(Instant::now() < deadline, "nothing reached {} within the deadline", config.dead_letter_queue());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_published_job_reaches_the_handler_once_and_is_acknowledged() {
    let queues = TestQueues::new();
    let publisher = AmqpPublisher::connect(&queues.config).await.expect("the publisher connects");
    assert!(publisher.is_connected());
    let job = job();
    publisher.publish(&job).await.expect("the job is published");
    assert_eq!(publisher.depth().await.expect("depth"), 1);

    let (consumer, mut calls) = start_reporting(&queues.config, |_, _| Disposition::Ack);
    assert_eq!(next_call(&mut calls).await, (job.job_id.clone(), false));
    consumer.shut_down().await;

    // The handler went with the consumer: a closed channel with nothing in it means exactly one call.
    assert_eq!(calls.recv().await, None, "the handler was called only once");
    wait_for_depth(&publisher, 0, false).await;
    assert_eq!(publisher.dead_depth().await.expect("dead depth"), 0);
    publisher.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_the_handler_dead_letters_lands_in_the_dead_letter_queue_and_the_next_one_goes_on() {
    let queues = TestQueues::new();
    let publisher = AmqpPublisher::connect(&queues.config).await.expect("the publisher connects");
    let (doomed, next) = (job(), job());
    publisher.publish(&doomed).await.expect("the first job is published");
    publisher.publish(&next).await.expect("the second job is published");

    let doomed_id = doomed.job_id.clone();
    let (consumer, mut calls) = start_reporting(&queues.config, move |message, _| {
        if message.job_id == doomed_id {
            Disposition::DeadLetter { reason: "the scan is not a PDF".to_string() }
        } else {
            Disposition::Ack
        }
    });
    assert_eq!(next_call(&mut calls).await, (doomed.job_id.clone(), false));
    assert_eq!(next_call(&mut calls).await, (next.job_id.clone(), false));

    let (body, reason) = wait_for_dead_letter(&queues.config).await;
    assert_eq!(JobMessage::from_json(&body).expect("the dead letter is the job message"), doomed);
    assert_eq!(reason.as_deref(), Some("rejected"));

    consumer.shut_down().await;
    wait_for_depth(&publisher, 0, false).await;
    assert_eq!(publisher.dead_depth().await.expect("dead depth"), 0, "only the doomed job was dead-lettered");
    publisher.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_body_is_dead_lettered_without_reaching_the_handler() {
    let queues = TestQueues::new();
    let publisher = AmqpPublisher::connect(&queues.config).await.expect("the publisher connects (and declares the queues)");

    let connection = Connection::connect(&queues.config.url, ConnectionProperties::default()).await.expect("lapin connects");
    let channel = connection.create_channel().await.expect("a channel opens");
    let garbage = br#"{"schema_version": 1, "job_id": "#.to_vec();
    channel
        .basic_publish("".into(), queues.config.queue.as_str().into(), BasicPublishOptions::default(), &garbage, BasicProperties::default())
        .await
        .expect("the raw bytes are published");
    connection.close(200, "OK".into()).await.expect("lapin closes");
    // A valid job behind it: if the handler sees this one first, it never saw the garbage.
    let valid = job();
    publisher.publish(&valid).await.expect("the valid job is published");

    let (consumer, mut calls) = start_reporting(&queues.config, |_, _| Disposition::Ack);
    assert_eq!(next_call(&mut calls).await, (valid.job_id.clone(), false), "the first call is the valid job");

    let (body, reason) = wait_for_dead_letter(&queues.config).await;
    assert_eq!(body, garbage);
    assert_eq!(reason.as_deref(), Some("rejected"));

    consumer.shut_down().await;
    assert_eq!(calls.recv().await, None, "the handler saw nothing but the valid job");
    wait_for_depth(&publisher, 0, false).await;
    publisher.close().await;
}

/// Polls the delay queue until it holds `expected` messages, or fails at the deadline.
async fn wait_for_retry_depth(publisher: &AmqpPublisher, expected: u32) {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let depth = publisher.retry_depth().await.expect("the delay queue's depth is readable");
        if depth == expected {
            return;
        }
        assert!(Instant::now() < deadline, "the delay queue stayed at {depth}, expected {expected}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_job_waits_in_the_delay_queue_while_the_worker_takes_the_next_and_comes_back_redelivered() {
    let queues = TestQueues::new();
    let publisher = AmqpPublisher::connect(&queues.config).await.expect("the publisher connects");
    let first = job();
    publisher.publish(&first).await.expect("the job is published");

    // The first job fails for now (back in 2 s); every other call succeeds.
    let retried = first.job_id.clone();
    let (consumer, mut calls) = start_reporting(&queues.config, move |message, redelivered| {
        if message.job_id == retried && !redelivered {
            Disposition::Retry { after: Duration::from_secs(2) }
        } else {
            Disposition::Ack
        }
    });
    assert_eq!(next_call(&mut calls).await, (first.job_id.clone(), false));
    // The job waits in the delay queue, not in the worker's hands (prefetch 1): the worker takes the
    // next job meanwhile.
    wait_for_retry_depth(&publisher, 1).await;
    let second = job();
    publisher.publish(&second).await.expect("the second job is published");
    let mut seen = vec![next_call(&mut calls).await, next_call(&mut calls).await];
    seen.sort();
    let mut expected = vec![(second.job_id.clone(), false), (first.job_id.clone(), true)];
    expected.sort();
    assert_eq!(seen, expected, "the second job is done and the first comes back from the delay queue, redelivered");
    consumer.shut_down().await;

    assert_eq!(calls.recv().await, None, "the acknowledged jobs did not come back");
    wait_for_depth(&publisher, 0, false).await;
    wait_for_retry_depth(&publisher, 0).await;
    assert_eq!(publisher.dead_depth().await.expect("dead depth"), 0);
    publisher.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutting_down_while_a_handler_is_blocked_requeues_its_job_for_another_worker() {
    let queues = TestQueues::new();
    let publisher = AmqpPublisher::connect(&queues.config).await.expect("the publisher connects");
    let job = job();
    publisher.publish(&job).await.expect("the job is published");

    // The first worker's handler reports, then waits on a oneshot whose sender never sends.
    let (_never_fires, gate) = oneshot::channel::<()>();
    let gate = Arc::new(tokio::sync::Mutex::new(Some(gate)));
    let (started, mut starts) = mpsc::unbounded_channel();
    let blocked = move |message: JobMessage, redelivered: bool| {
        let (gate, started) = (gate.clone(), started.clone());
        async move {
            let _ = started.send((message.job_id, redelivered));
            if let Some(gate) = gate.lock().await.take() {
                let _ = gate.await;
            }
            Disposition::Ack
        }
    };
    let first = RunningConsumer::start(&queues.config, blocked);
    assert_eq!(next_call(&mut starts).await, (job.job_id.clone(), false));
    first.shut_down().await;

    let (second, mut calls) = start_reporting(&queues.config, |_, _| Disposition::Ack);
    assert_eq!(next_call(&mut calls).await, (job.job_id.clone(), true), "the second worker gets the same job, redelivered");
    second.shut_down().await;
    wait_for_depth(&publisher, 0, false).await;
    assert_eq!(publisher.dead_depth().await.expect("dead depth"), 0);
    publisher.close().await;
}

/// `rabbitmqctl` with `args` (the broker's own tool; the suite runs as root, beside the broker).
async fn rabbitmqctl(args: &[&str]) -> String {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let out = tokio::task::spawn_blocking(move || std::process::Command::new("rabbitmqctl").args(&args).output())
        .await
        .expect("rabbitmqctl ran")
        .expect("rabbitmqctl is installed with the broker");
    assert!(out.status.success(), "rabbitmqctl failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// The broker's process ids of the connections whose client named itself `client_name`.
async fn connections_named(client_name: &str) -> Vec<String> {
    // One line per connection: the pid as `close_connection` takes it (`<rabbit@host.1.2.0>`), a tab,
    // the client's properties (its connection name among them).
    let listed = rabbitmqctl(&["list_connections", "pid", "client_properties", "--quiet", "--no-table-headers"]).await;
    listed
        .lines()
        .filter(|line| line.contains(client_name))
        .filter_map(|line| line.split('\t').next())
        .map(|pid| pid.trim().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_reconnects_after_the_broker_closes_its_connection_and_does_the_next_job() {
    let queues = TestQueues::new();
    let publisher = AmqpPublisher::connect(&queues.config).await.expect("the publisher connects");
    let (consumer, mut calls) = start_reporting(&queues.config, |_, _| Disposition::Ack);
    let before = job();
    publisher.publish(&before).await.expect("the job is published");
    assert_eq!(next_call(&mut calls).await, (before.job_id.clone(), false));

    // The broker closes the worker's connection (and only it: the connection names carry the test's
    // own queue; `close_connection` takes the connection's process id); the shared broker keeps running.
    let client_name = format!("certscan-worker {}", queues.config.queue);
    let closed = connections_named(&client_name).await;
    assert_eq!(closed.len(), 1, "one worker connection: {closed:?}");
    rabbitmqctl(&["close_connection", &closed[0], "certscan test: closed by the broker"]).await;

    // The worker comes back on a new connection, and a job sent after the drop is done.
    let deadline = Instant::now() + DEADLINE;
    loop {
        let now = connections_named(&client_name).await;
        if now.len() == 1 && now[0] != closed[0] {
            break;
        }
        assert!(Instant::now() < deadline, "the worker did not reconnect: {now:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let after = job();
    publisher.publish(&after).await.expect("the job is published after the drop");
    assert_eq!(next_call(&mut calls).await, (after.job_id.clone(), false));
    consumer.shut_down().await;
    wait_for_depth(&publisher, 0, false).await;
    assert_eq!(publisher.dead_depth().await.expect("dead depth"), 0);
    publisher.close().await;
}
