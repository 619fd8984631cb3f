-- The blank ledger (contracts.md "Blank ledger"): registered packs of strict-accountability blanks and
-- the blanks written off. Which numbers are used is read from `attachments` (every exam). Portable SQL
-- as 0001: TEXT columns, RFC 3339 UTC times.

CREATE TABLE blank_packs (
    pack_id TEXT PRIMARY KEY,
    -- Two digits, as printed before the space of `51 0375170`.
    series TEXT NOT NULL,
    -- The number part with its leading zeros (the width every number of the pack is printed with).
    first_number TEXT NOT NULL,
    last_number TEXT NOT NULL,
    received_on TEXT,
    note TEXT,
    registered_at TEXT NOT NULL,
    registered_by TEXT NOT NULL
);

-- One row per written-off blank; a blank is written off once.
CREATE TABLE spoiled_blanks (
    blank_number TEXT PRIMARY KEY,
    pack_id TEXT NOT NULL REFERENCES blank_packs (pack_id),
    reason TEXT NOT NULL,
    spoiled_at TEXT NOT NULL,
    spoiled_by TEXT NOT NULL
);
CREATE INDEX spoiled_blanks_by_pack ON spoiled_blanks (pack_id);

-- A blank number used in any exam (the ledger's cross-exam check).
CREATE INDEX attachments_by_blank ON attachments (blank_number);
