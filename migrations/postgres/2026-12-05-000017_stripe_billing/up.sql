-- Stripe (issue 14): webhook events as received, and what a subscription
-- change needs of Stripe's subscription (its item and price).

-- Every verified event, stored by Stripe's id before anything is applied:
-- a duplicate delivery finds its id taken and is acknowledged only. A task
-- applies it (status pending → processed | ignored | failed, with the
-- result or the error in words); staff re-process one from the events page.
CREATE TABLE stripe_events (
  id BIGSERIAL PRIMARY KEY,
  event_id TEXT NOT NULL UNIQUE,
  event_type TEXT NOT NULL,
  customer_id TEXT,
  object_id TEXT,
  stripe_created BIGINT NOT NULL,
  livemode BOOLEAN NOT NULL,
  payload TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'processed', 'ignored', 'failed')),
  result TEXT,
  attempts INTEGER NOT NULL DEFAULT 0,
  received_at TIMESTAMP NOT NULL,
  processed_at TIMESTAMP
);
-- The events page: newest first, by one filter each.
CREATE INDEX stripe_events_type_idx ON stripe_events (event_type, id);
CREATE INDEX stripe_events_status_idx ON stripe_events (status, id);
CREATE INDEX stripe_events_customer_idx ON stripe_events (customer_id, id) WHERE customer_id IS NOT NULL;

ALTER TABLE subscriptions ADD COLUMN stripe_item_id TEXT;
ALTER TABLE subscriptions ADD COLUMN stripe_price_id TEXT;
