-- operations: provider callbacks and consistency checks.

-- ---------------------------------------------------------------------------
-- webhook_inbox
-- ---------------------------------------------------------------------------
create table webhook_inbox (
    provider          text        not null,
    provider_event_id text        not null,  -- the provider's event id; the deduplication key
    event_type        text        not null,  -- provider event type, e.g. 'payment_intent.succeeded'
    order_id          uuid,                  -- resolved order, if any; deliberately no fk (callbacks may name unknown orders)
    payload           jsonb       not null,  -- raw body as received
    signature_ok      boolean     not null,  -- whether the provider signature verified; unverified rows are kept for audit, never acted on
    received_at       timestamptz not null default now(),
    processed_at      timestamptz,           -- set once the webhook worker has applied the event

    constraint webhook_inbox_pkey primary key (provider, provider_event_id),
    constraint webhook_inbox_provider_not_blank_check check (provider <> ''),
    constraint webhook_inbox_provider_event_id_not_blank_check check (provider_event_id <> ''),
    constraint webhook_inbox_event_type_not_blank_check check (event_type <> '')
);

comment on table webhook_inbox is
    'deduplicated inbox of payment provider callbacks (insert ... on conflict do nothing). '
    'written by the gateway webhook endpoint; read and marked processed by the webhook worker; '
    'read by the reconciler and support tooling.';

-- webhook worker: the backlog of verified, unprocessed events.
create index webhook_inbox_unprocessed_idx on webhook_inbox (received_at)
    where processed_at is null and signature_ok;
create index webhook_inbox_order_id_idx on webhook_inbox (order_id)
    where order_id is not null;

-- ---------------------------------------------------------------------------
-- reconciliation_runs
-- ---------------------------------------------------------------------------
create table reconciliation_runs (
    run_id        uuid        not null,
    trigger       text        not null,
    status        text        not null,
    started_at    timestamptz not null default now(),
    finished_at   timestamptz,
    checked_seats int         not null default 0,  -- seats/units compared between nats kv, orders and tickets
    repaired      int         not null default 0,  -- discrepancies fixed automatically
    unresolved    int         not null default 0,  -- discrepancies left for a human (details in findings)
    findings      jsonb       not null default '[]',  -- array of finding objects
    error         text,                            -- why the run failed

    constraint reconciliation_runs_pkey primary key (run_id),
    constraint reconciliation_runs_trigger_check check (trigger in ('schedule', 'manual')),
    constraint reconciliation_runs_status_check check (status in ('running', 'succeeded', 'failed')),
    constraint reconciliation_runs_finished_at_matches_status_check check (
        (finished_at is null) = (status = 'running')
    ),
    constraint reconciliation_runs_finished_after_started_check check (finished_at >= started_at),
    constraint reconciliation_runs_checked_seats_check check (checked_seats >= 0),
    constraint reconciliation_runs_repaired_check check (repaired >= 0),
    constraint reconciliation_runs_unresolved_check check (unresolved >= 0),
    constraint reconciliation_runs_findings_array_check check (jsonb_typeof(findings) = 'array')
);

comment on table reconciliation_runs is
    'one pass of the reconciler comparing seat holds, orders, payments and tickets. written '
    'by the reconciler worker (insert at start, update at finish); read by the ops dashboard '
    'and the operator api.';

create index reconciliation_runs_started_at_idx on reconciliation_runs (started_at desc);
