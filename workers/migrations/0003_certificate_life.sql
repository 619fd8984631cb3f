-- The certificate's life after the scan (issue 14): the handover (seed 002), the issuance register
-- (seed 001) and the events outbox. Portable SQL as 0001: TEXT, BIGINT; RFC 3339 UTC times.

-- «Сертификат выдан лично»: one row per handed-over application; an undo deletes the row (the audit
-- trail keeps who did it, when and why).
CREATE TABLE handovers (
    application_id TEXT PRIMARY KEY REFERENCES applications (application_id),
    exam_id TEXT NOT NULL,
    -- The day the candidate took the certificate (YYYY-MM-DD).
    handed_over_on TEXT NOT NULL,
    handed_over_by TEXT NOT NULL,
    recorded_at TEXT NOT NULL
);
CREATE INDEX handovers_by_exam ON handovers (exam_id);

-- The issuance register of an exam: the stage people moved it to (certscan_domain::register::Stage);
-- before its first generation there is no row and the status follows the certificates.
CREATE TABLE registers (
    exam_id TEXT PRIMARY KEY REFERENCES exams (exam_id),
    stage TEXT NOT NULL,
    -- 1, 2, ...: every generation makes a new version.
    version BIGINT NOT NULL,
    -- The rows of the current version (JSON), as generated.
    content TEXT NOT NULL,
    generated_at TEXT NOT NULL,
    generated_by TEXT NOT NULL,
    -- The reviewer's reason of the last rejection (the exam site reads it).
    reason TEXT,
    -- The signed scan last uploaded, and the version it was uploaded for.
    scan_object_key TEXT,
    scan_version BIGINT,
    updated_at TEXT NOT NULL,
    updated_by TEXT NOT NULL
);

-- The transactional outbox: every change the portal hears of, written in the same transaction as the
-- change. `seq` is assigned by certscan under a lock held until commit (PostgreSQL: an advisory
-- transaction lock; SQLite: one writer), so sequence order is commit order.
CREATE TABLE events (
    seq BIGINT PRIMARY KEY,
    event_type TEXT NOT NULL,
    at TEXT NOT NULL,
    exam_id TEXT,
    application_id TEXT,
    data TEXT NOT NULL
);
CREATE INDEX events_by_exam ON events (exam_id, seq);

-- How far each delivery (the RabbitMQ topic exchange, the webhook) got: the last seq delivered. A
-- process that dies between the commit and the delivery leaves the cursor behind; the next delivers.
-- One process delivers a sink at a time: it holds a lease (`holder` until `lease_until`) renewed by
-- every delivery; a dead holder's lease runs out and another process goes on from the cursor.
CREATE TABLE event_cursors (
    sink TEXT PRIMARY KEY,
    last_seq BIGINT NOT NULL,
    updated_at TEXT NOT NULL,
    holder TEXT,
    lease_until TEXT
);
