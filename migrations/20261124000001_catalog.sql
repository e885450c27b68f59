-- catalog: who sells what, where, and which seats exist.
-- conventions: see migrations/README.md. every constraint is named
-- <table>_<what>_<kind> so application errors can be matched on the name.

-- one reusable trigger function keeps updated_at honest on every table that has it.
create function set_updated_at() returns trigger
language plpgsql
as $$
begin
    new.updated_at := now();
    return new;
end;
$$;

comment on function set_updated_at() is
    'before-update trigger: stamps updated_at with the transaction time.';

-- ---------------------------------------------------------------------------
-- organizers
-- ---------------------------------------------------------------------------
create table organizers (
    organizer_id  uuid        not null,
    email         text        not null,
    display_name  text        not null,
    password_hash text        not null,  -- phc string (argon2id); never the password
    role          text        not null,
    created_at    timestamptz not null default now(),
    updated_at    timestamptz not null default now(),

    constraint organizers_pkey primary key (organizer_id),
    constraint organizers_email_unique unique (email),
    constraint organizers_email_lowercase_check check (email = lower(email)),
    constraint organizers_email_format_check check (email ~ '^[^@[:space:]]+@[^@[:space:]]+$'),
    constraint organizers_display_name_not_blank_check check (btrim(display_name) <> ''),
    constraint organizers_password_hash_not_blank_check check (password_hash <> ''),
    constraint organizers_role_check check (role in ('organizer', 'operator'))
);

comment on table organizers is
    'accounts that sell tickets (organizer) or run the platform (operator). '
    'written by the gateway signup/admin endpoints; read by gateway auth and every '
    'organizer-scoped query.';
comment on column organizers.email is 'stored lowercased by the app; the check rejects mixed case.';

create trigger organizers_set_updated_at
    before update on organizers
    for each row execute function set_updated_at();

-- ---------------------------------------------------------------------------
-- venues
-- ---------------------------------------------------------------------------
create table venues (
    venue_id     uuid        not null,
    organizer_id uuid        not null,
    name         text        not null,
    city         text,
    timezone     text        not null,  -- iana name, e.g. Europe/Berlin (validated by the app)
    created_at   timestamptz not null default now(),
    updated_at   timestamptz not null default now(),

    constraint venues_pkey primary key (venue_id),
    constraint venues_organizer_id_fkey foreign key (organizer_id)
        references organizers (organizer_id),
    constraint venues_name_not_blank_check check (btrim(name) <> ''),
    constraint venues_timezone_not_blank_check check (btrim(timezone) <> '')
);

comment on table venues is
    'physical places owned by an organizer. written by gateway organizer endpoints; '
    'read when creating events and rendering event pages.';

create index venues_organizer_id_idx on venues (organizer_id);

create trigger venues_set_updated_at
    before update on venues
    for each row execute function set_updated_at();

-- ---------------------------------------------------------------------------
-- events
-- ---------------------------------------------------------------------------
create table events (
    event_id              uuid        not null,
    organizer_id          uuid        not null,
    venue_id              uuid        not null,
    name                  text        not null,
    starts_at             timestamptz not null,
    timezone              text        not null,  -- iana name used to render local times; copied from the venue by default
    status                text        not null default 'draft',
    opens_at              timestamptz,           -- sales window start; null = not scheduled yet
    closes_at             timestamptz,           -- sales window end; null = open until closed by hand
    max_tickets_per_buyer int         not null default 8,
    hold_seconds          int         not null default 600,  -- how long a seat hold lives before it expires
    admission_rate_per_s  int,                   -- waiting-room admission rate; null = no waiting room
    created_at            timestamptz not null default now(),
    updated_at            timestamptz not null default now(),

    constraint events_pkey primary key (event_id),
    constraint events_organizer_id_fkey foreign key (organizer_id)
        references organizers (organizer_id),
    constraint events_venue_id_fkey foreign key (venue_id)
        references venues (venue_id),
    constraint events_name_not_blank_check check (btrim(name) <> ''),
    constraint events_timezone_not_blank_check check (btrim(timezone) <> ''),
    constraint events_status_check check (
        status in ('draft', 'scheduled', 'on_sale', 'paused', 'closed', 'canceled')
    ),
    constraint events_closes_after_opens_check check (
        opens_at is null or closes_at is null or closes_at > opens_at
    ),
    constraint events_max_tickets_per_buyer_check check (max_tickets_per_buyer between 1 and 50),
    constraint events_hold_seconds_check check (hold_seconds between 30 and 3600),
    constraint events_admission_rate_per_s_check check (admission_rate_per_s > 0)
);

comment on table events is
    'a performance that sells tickets. written by gateway organizer endpoints and the '
    'event-lifecycle workflow (status changes); read by the gateway (catalog, checkout '
    'limits), workflows (hold_seconds, limits) and the reconciler.';

create index events_organizer_id_idx on events (organizer_id);
create index events_venue_id_idx on events (venue_id);
create index events_status_starts_at_idx on events (status, starts_at);

create trigger events_set_updated_at
    before update on events
    for each row execute function set_updated_at();

-- ---------------------------------------------------------------------------
-- sections
-- ---------------------------------------------------------------------------
create table sections (
    section_id  uuid        not null,
    event_id    uuid        not null,
    code        text        not null,  -- short stable id; used as a nats kv key token, hence the charset
    name        text        not null,
    kind        text        not null,
    capacity    int         not null,  -- seated: number of seats; general admission: number of units
    price_cents bigint      not null,
    currency    char(3)     not null,
    sort_order  int         not null default 0,
    created_at  timestamptz not null default now(),
    updated_at  timestamptz not null default now(),

    constraint sections_pkey primary key (section_id),
    constraint sections_event_id_fkey foreign key (event_id)
        references events (event_id) on delete cascade,
    constraint sections_event_code_unique unique (event_id, code),
    -- target for composite (event_id, section_id) foreign keys, so child rows cannot
    -- name a section of a different event.
    constraint sections_event_section_unique unique (event_id, section_id),
    constraint sections_code_format_check check (code ~ '^[A-Za-z0-9_-]{1,32}$'),
    constraint sections_name_not_blank_check check (btrim(name) <> ''),
    constraint sections_kind_check check (kind in ('seated', 'general_admission')),
    constraint sections_capacity_check check (capacity > 0),
    constraint sections_price_cents_check check (price_cents >= 0),
    constraint sections_currency_check check (currency ~ '^[A-Z]{3}$')
);

comment on table sections is
    'priced areas of an event, seated or general admission. written by gateway organizer '
    'endpoints; read by the gateway (seat map, pricing), hold workflows (kv keys) and the reconciler.';

create trigger sections_set_updated_at
    before update on sections
    for each row execute function set_updated_at();

-- ---------------------------------------------------------------------------
-- seats
-- ---------------------------------------------------------------------------
create table seats (
    event_id    uuid        not null,
    section_id  uuid        not null,
    label       text        not null,  -- unique within the section; used as a nats kv key token
    row_label   text,                  -- display only
    seat_number int,                   -- display only
    created_at  timestamptz not null default now(),

    constraint seats_pkey primary key (section_id, label),
    constraint seats_event_id_section_id_fkey foreign key (event_id, section_id)
        references sections (event_id, section_id) on delete cascade,
    constraint seats_label_format_check check (label ~ '^[A-Za-z0-9_-]{1,32}$'),
    constraint seats_seat_number_check check (seat_number > 0)
);

comment on table seats is
    'the seat map of seated sections (general-admission units are virtual, labelled u1..uN '
    'by the app, and have no rows here). written by gateway organizer endpoints (seat map '
    'import); read by the gateway (seat map), hold workflows and the reconciler.';

create index seats_event_id_idx on seats (event_id);

-- ---------------------------------------------------------------------------
-- allocations
-- ---------------------------------------------------------------------------
create table allocations (
    allocation_id    uuid        not null,
    event_id         uuid        not null,
    section_id       uuid        not null,
    kind             text        not null,
    labels           text[]      not null default '{}',  -- seated sections: the seats taken out of sale
    quantity         int,                                -- general admission: number of units taken out of sale
    access_code_hash text,                               -- presale only: hash of the code that unlocks it
    note             text,
    released_at      timestamptz,                        -- set when the allocation is returned to general sale
    created_at       timestamptz not null default now(),
    updated_at       timestamptz not null default now(),

    constraint allocations_pkey primary key (allocation_id),
    constraint allocations_event_id_section_id_fkey foreign key (event_id, section_id)
        references sections (event_id, section_id) on delete cascade,
    constraint allocations_kind_check check (kind in ('kill', 'reserved', 'presale')),
    constraint allocations_quantity_check check (quantity > 0),
    constraint allocations_labels_no_nulls_check check (array_position(labels, null) is null),
    constraint allocations_labels_xor_quantity_check check (
        (cardinality(labels) > 0) <> (quantity is not null)
    ),
    constraint allocations_access_code_hash_presale_check check (
        (kind = 'presale') = (access_code_hash is not null)
    )
);

comment on table allocations is
    'seats or units withheld from general sale (kills, reserved blocks, presales). written '
    'by gateway organizer endpoints; read by hold workflows (availability), the gateway '
    '(presale unlock) and the reconciler.';

create index allocations_event_id_section_id_idx on allocations (event_id, section_id);

create trigger allocations_set_updated_at
    before update on allocations
    for each row execute function set_updated_at();
