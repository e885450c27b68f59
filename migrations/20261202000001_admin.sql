-- admin: signed-in organizer sessions and the audit of what organizers did.

-- ---------------------------------------------------------------------------
-- admin_sessions
-- ---------------------------------------------------------------------------
create table admin_sessions (
    token_hash   bytea       not null,  -- sha-256 of the cookie's secret; the secret itself is never stored
    organizer_id uuid        not null,
    csrf_token   text        not null,  -- echoed by every state-changing request (header or form field)
    created_at   timestamptz not null default now(),
    expires_at   timestamptz not null,
    user_agent   text,

    constraint admin_sessions_pkey primary key (token_hash),
    constraint admin_sessions_organizer_id_fkey foreign key (organizer_id)
        references organizers (organizer_id) on delete cascade,
    constraint admin_sessions_token_hash_length_check check (octet_length(token_hash) = 32),
    constraint admin_sessions_csrf_token_length_check check (char_length(csrf_token) >= 32),
    constraint admin_sessions_expires_after_created_check check (expires_at > created_at)
);

comment on table admin_sessions is
    'signed-in admin ui sessions (cookie bo_admin). written by the gateway login/logout '
    'endpoints; read by every /admin request. server-side so a logout or a password reset '
    'ends a session at once.';

create index admin_sessions_organizer_id_idx on admin_sessions (organizer_id);
create index admin_sessions_expires_at_idx on admin_sessions (expires_at);

-- ---------------------------------------------------------------------------
-- admin_audit
-- ---------------------------------------------------------------------------
create table admin_audit (
    audit_id     uuid        not null,
    organizer_id uuid        not null,
    event_id     uuid,
    action       text        not null,  -- e.g. 'event.create', 'sale.pause', 'order.refund'
    detail       jsonb       not null default '{}',
    at           timestamptz not null default now(),

    constraint admin_audit_pkey primary key (audit_id),
    constraint admin_audit_organizer_id_fkey foreign key (organizer_id)
        references organizers (organizer_id) on delete cascade,
    constraint admin_audit_action_not_blank_check check (action <> '')
);

comment on table admin_audit is
    'append-only record of every change made through the admin ui or api. written by the '
    'gateway admin handlers in the same transaction as the change; read by the event page.';

create index admin_audit_event_id_at_idx on admin_audit (event_id, at desc);

-- the orders search filters by event and time; by buyer it uses orders_event_id_buyer_id_idx.
create index orders_created_at_idx on orders (created_at desc);
create index tickets_event_id_issued_at_idx on tickets (event_id, issued_at);
