-- branding: how an event's buyer pages look (logo, colours, a short intro and footer text).

alter table events add column branding jsonb not null default '{}';

alter table events add constraint events_branding_object_check
    check (jsonb_typeof(branding) = 'object');

comment on column events.branding is
    'the buyer pages'' look for this event: {logo_url (https), primary_color and accent_color '
    '(#rrggbb), intro (<= 500 chars), footer (<= 200 chars)}, every key optional. written by '
    'PUT /admin/api/v1/events/{id}/branding (checked there); read with the published catalog '
    'by the gateway, which applies it as CSS custom properties.';
