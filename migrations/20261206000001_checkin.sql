-- check-in at the door: door staff accounts, and a ticket marked used exactly once.

-- ---------------------------------------------------------------------------
-- organizers: door staff, who work for one organizer (or an operator)
-- ---------------------------------------------------------------------------
alter table organizers
    add column works_for uuid,  -- door accounts only: the account whose events they check in
    drop constraint organizers_role_check,
    add constraint organizers_role_check check (role in ('organizer', 'operator', 'door')),
    add constraint organizers_works_for_fkey foreign key (works_for)
        references organizers (organizer_id) on delete cascade,
    add constraint organizers_works_for_door_check check ((role = 'door') = (works_for is not null));

comment on column organizers.role is
    'organizer (its own events), operator (every event) or door (the check-in scanner only, '
    'for the events of the account in works_for; every event when that is an operator).';
comment on column organizers.works_for is
    'door accounts only: the organizer or operator who created it. written by the admin api '
    'and boxofficectl account --role door; read by the check-in api to scope its scans.';

create index organizers_works_for_idx on organizers (works_for) where works_for is not null;

-- ---------------------------------------------------------------------------
-- tickets: checked in once
-- ---------------------------------------------------------------------------
alter table tickets
    add column checked_in_at   timestamptz,  -- when the door admitted it; null = not yet
    add column checked_in_gate text,         -- the gate's name as the scanner gave it
    add column checked_in_by   uuid,         -- the account that scanned it
    add constraint tickets_checked_in_by_fkey foreign key (checked_in_by)
        references organizers (organizer_id) on delete set null,
    add constraint tickets_checked_in_together_check check (
        (checked_in_at is null) = (checked_in_gate is null)
        and (checked_in_at is not null or checked_in_by is null)
    ),
    add constraint tickets_checked_in_gate_length_check check (
        char_length(checked_in_gate) between 1 and 100
    );

comment on column tickets.checked_in_at is
    'set once, by the check-in api''s conditional update (issued and not yet checked in): two '
    'gates scanning at once admit one. read by the scanner (when a ticket was used) and the '
    'live dashboard (checked-in counts).';
comment on column tickets.checked_in_gate is 'the gate that admitted the ticket; set with checked_in_at.';
comment on column tickets.checked_in_by is
    'the account that scanned it; set with checked_in_at (null again if that account is deleted).';

-- the live dashboard counts checked-in tickets per event and section every second.
create index tickets_event_id_checked_in_idx on tickets (event_id, section_id)
    where checked_in_at is not null;
