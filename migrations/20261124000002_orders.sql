-- orders: what buyers asked for, what they paid, and what they hold.

-- ---------------------------------------------------------------------------
-- orders
-- ---------------------------------------------------------------------------
create table orders (
    order_id        uuid        not null,
    event_id        uuid        not null,
    buyer_id        uuid        not null,  -- opaque buyer identity from the gateway; no buyers table
    idempotency_key text        not null,  -- client-supplied Idempotency-Key header
    request_hash    text        not null,  -- hash of the request body: a replayed key with another body is rejected
    state           text        not null,
    reason          text,                  -- why the order ended in rejected/expired/payment_failed/canceled
    amount_cents    bigint      not null default 0,
    currency        char(3)     not null,
    hold_expires_at timestamptz,           -- when the current seat hold lapses
    version         bigint      not null default 0,  -- bumped on every state change; updates are conditional on it
    workflow_id     text        not null,  -- id of the workflow driving this order
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),

    constraint orders_pkey primary key (order_id),
    constraint orders_event_id_fkey foreign key (event_id)
        references events (event_id),
    constraint orders_buyer_idempotency_key_unique unique (buyer_id, idempotency_key),
    constraint orders_workflow_id_unique unique (workflow_id),
    -- target for order_seats' composite foreign key (keeps order_seats.event_id = orders.event_id).
    constraint orders_order_event_unique unique (order_id, event_id),
    constraint orders_idempotency_key_length_check check (char_length(idempotency_key) between 1 and 255),
    constraint orders_request_hash_not_blank_check check (request_hash <> ''),
    constraint orders_state_check check (
        state in ('requested', 'held', 'awaiting_payment', 'authorized', 'confirmed', 'issued',
                  'rejected', 'expired', 'payment_failed', 'canceled', 'refunded')
    ),
    constraint orders_amount_cents_check check (amount_cents >= 0),
    constraint orders_currency_check check (currency ~ '^[A-Z]{3}$'),
    constraint orders_version_check check (version >= 0),
    constraint orders_workflow_id_not_blank_check check (workflow_id <> '')
);

comment on table orders is
    'one checkout attempt by a buyer. inserted by the gateway (idempotent on buyer_id + '
    'idempotency_key); state advanced by the order workflow and the payment webhook worker '
    'with version-conditional updates; read by the gateway (order status), the hold expiry '
    'sweeper and the reconciler.';

create index orders_event_id_state_idx on orders (event_id, state);
create index orders_event_id_buyer_id_idx on orders (event_id, buyer_id);
-- expiry sweeper: orders whose hold may have lapsed.
create index orders_hold_expires_at_idx on orders (hold_expires_at)
    where state in ('held', 'awaiting_payment');

create trigger orders_set_updated_at
    before update on orders
    for each row execute function set_updated_at();

-- ---------------------------------------------------------------------------
-- order_seats
-- ---------------------------------------------------------------------------
create table order_seats (
    order_id    uuid   not null,
    event_id    uuid   not null,
    section_id  uuid   not null,
    label       text   not null,  -- seat label, or u1..uN for general-admission units
    price_cents bigint not null,  -- price at the time of the order

    constraint order_seats_pkey primary key (order_id, section_id, label),
    constraint order_seats_order_id_event_id_fkey foreign key (order_id, event_id)
        references orders (order_id, event_id) on delete cascade,
    constraint order_seats_event_id_section_id_fkey foreign key (event_id, section_id)
        references sections (event_id, section_id),
    constraint order_seats_label_format_check check (label ~ '^[A-Za-z0-9_-]{1,32}$'),
    constraint order_seats_price_cents_check check (price_cents >= 0)
);

comment on table order_seats is
    'the seats/units an order asked for, with their price. written by the gateway together '
    'with the order; read by the order workflow (holds, ticket issuing) and the reconciler.';

-- reconciler: every order that ever touched a given seat.
create index order_seats_event_id_section_id_label_idx on order_seats (event_id, section_id, label);

-- ---------------------------------------------------------------------------
-- order_transitions
-- ---------------------------------------------------------------------------
create table order_transitions (
    order_id   uuid        not null,
    seq        int         not null,  -- per-order, increasing; assigned by the writer in the same transaction as the state change
    from_state text,                  -- null for the initial transition into 'requested'
    to_state   text        not null,
    at         timestamptz not null default now(),
    detail     jsonb       not null default '{}',  -- free-form context (actor, payment ids, error)

    constraint order_transitions_pkey primary key (order_id, seq),
    constraint order_transitions_order_id_fkey foreign key (order_id)
        references orders (order_id) on delete cascade,
    constraint order_transitions_seq_check check (seq >= 0),
    constraint order_transitions_from_state_check check (
        from_state in ('requested', 'held', 'awaiting_payment', 'authorized', 'confirmed', 'issued',
                       'rejected', 'expired', 'payment_failed', 'canceled', 'refunded')
    ),
    constraint order_transitions_to_state_check check (
        to_state in ('requested', 'held', 'awaiting_payment', 'authorized', 'confirmed', 'issued',
                     'rejected', 'expired', 'payment_failed', 'canceled', 'refunded')
    ),
    constraint order_transitions_detail_object_check check (jsonb_typeof(detail) = 'object')
);

comment on table order_transitions is
    'append-only audit trail of every order state change. inserted in the same transaction '
    'as each orders state update (by the gateway, the order workflow and the webhook worker); '
    'read by the gateway order history endpoint, support tooling and the reconciler.';

-- ---------------------------------------------------------------------------
-- payments
-- ---------------------------------------------------------------------------
create table payments (
    payment_id         uuid        not null,
    order_id           uuid        not null,
    provider           text        not null,  -- payment provider name, e.g. 'stripe'
    provider_intent_id text        not null,  -- the provider's id for this payment (intent/session)
    state              text        not null,
    amount_cents       bigint      not null,
    captured_cents     bigint      not null default 0,
    refunded_cents     bigint      not null default 0,
    currency           char(3)     not null,
    checkout_url       text,                  -- hosted checkout page, when the provider uses one
    expires_at         timestamptz,           -- when the provider will give up on an unconfirmed payment
    created_at         timestamptz not null default now(),
    updated_at         timestamptz not null default now(),

    constraint payments_pkey primary key (payment_id),
    constraint payments_order_id_fkey foreign key (order_id)
        references orders (order_id),
    constraint payments_provider_intent_unique unique (provider, provider_intent_id),
    constraint payments_provider_not_blank_check check (provider <> ''),
    constraint payments_provider_intent_id_not_blank_check check (provider_intent_id <> ''),
    constraint payments_state_check check (
        state in ('requires_confirmation', 'authorized', 'captured', 'canceled', 'failed',
                  'refunded', 'partially_refunded')
    ),
    constraint payments_amount_cents_check check (amount_cents >= 0),
    constraint payments_refunded_cents_check check (refunded_cents >= 0),
    constraint payments_refunded_within_captured_check check (refunded_cents <= captured_cents),
    constraint payments_captured_within_amount_check check (captured_cents <= amount_cents),
    constraint payments_currency_check check (currency ~ '^[A-Z]{3}$')
);

comment on table payments is
    'payment attempts against a provider for an order (an order may have several). created '
    'by the order workflow payment activity; updated by the webhook worker and the capture/'
    'refund activities; read by the gateway (checkout_url) and the reconciler.';

create index payments_order_id_idx on payments (order_id);

create trigger payments_set_updated_at
    before update on payments
    for each row execute function set_updated_at();

-- ---------------------------------------------------------------------------
-- tickets
-- ---------------------------------------------------------------------------
create table tickets (
    ticket_id  uuid        not null,
    order_id   uuid        not null,
    event_id   uuid        not null,
    section_id uuid        not null,
    label      text        not null,
    code       text        not null,  -- unguessable code printed in the qr; the scanner looks tickets up by it
    signature  text        not null,  -- signature over the ticket payload so scanners can verify offline
    state      text        not null default 'issued',
    issued_at  timestamptz not null default now(),
    voided_at  timestamptz,

    constraint tickets_pkey primary key (ticket_id),
    constraint tickets_order_id_fkey foreign key (order_id)
        references orders (order_id),
    -- a ticket can only be issued for a seat that its order actually bought.
    constraint tickets_order_id_section_id_label_fkey foreign key (order_id, section_id, label)
        references order_seats (order_id, section_id, label),
    constraint tickets_event_id_section_id_fkey foreign key (event_id, section_id)
        references sections (event_id, section_id),
    constraint tickets_code_unique unique (code),
    constraint tickets_code_not_blank_check check (code <> ''),
    constraint tickets_signature_not_blank_check check (signature <> ''),
    constraint tickets_state_check check (state in ('issued', 'void')),
    constraint tickets_voided_at_matches_state_check check ((voided_at is not null) = (state = 'void'))
);

comment on table tickets is
    'admission tickets, one per seat/unit of an order. inserted by the order workflow issue '
    'activity; voided by refunds/cancellations; read by the gateway (ticket download), the '
    'door scanner and the reconciler.';

-- the database-enforced rule: a seat has at most one issued ticket per event.
create unique index tickets_one_issued_per_seat on tickets (event_id, section_id, label)
    where state = 'issued';
create index tickets_order_id_idx on tickets (order_id);
