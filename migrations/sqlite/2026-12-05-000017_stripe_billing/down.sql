ALTER TABLE subscriptions DROP COLUMN stripe_price_id;
ALTER TABLE subscriptions DROP COLUMN stripe_item_id;
DROP TABLE stripe_events;
