-- Plans, subscriptions, usage counted per user and month, quota
-- overrides, staff notifications (issue 14).

-- A plan's limits and overage prices are JSON read and written through
-- typed structs (src/metering/plan.rs): a limit is a non-negative count or
-- "unlimited"; a kind without an overage price is blocked at its limit.
CREATE TABLE plans (
  id INTEGER PRIMARY KEY,
  code TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  price_cents BIGINT NOT NULL CHECK (price_cents >= 0),
  currency TEXT NOT NULL,
  billing_interval TEXT NOT NULL CHECK (billing_interval IN ('month', 'year')),
  limits TEXT NOT NULL,
  overage TEXT NOT NULL,
  stripe_price_id TEXT,
  -- Offered for new subscriptions.
  active BOOLEAN NOT NULL DEFAULT TRUE,
  -- The limits of users with no subscription.
  is_default BOOLEAN NOT NULL DEFAULT FALSE,
  archived_at TIMESTAMP,
  created_at TIMESTAMP NOT NULL,
  updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX plans_one_default ON plans (is_default) WHERE is_default;

INSERT INTO plans (code, name, price_cents, currency, billing_interval, limits, overage, is_default, created_at, updated_at)
VALUES ('free', 'Free', 0, 'eur', 'month', '{"articles":5,"images":20,"social_posts":10}', '{}', TRUE, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP);

-- A user's current subscription (one at most); its history is the audit
-- trail. A complimentary plan has no Stripe ids.
CREATE TABLE subscriptions (
  id INTEGER PRIMARY KEY,
  user_id BIGINT NOT NULL UNIQUE REFERENCES users (id),
  plan_id BIGINT NOT NULL REFERENCES plans (id),
  status TEXT NOT NULL CHECK (status IN ('active', 'trialing', 'past_due', 'unpaid', 'incomplete', 'canceled', 'complimentary')),
  stripe_customer_id TEXT,
  stripe_subscription_id TEXT UNIQUE,
  current_period_start TIMESTAMP,
  current_period_end TIMESTAMP,
  cancel_at_period_end BOOLEAN NOT NULL DEFAULT FALSE,
  -- When Stripe wrote the state applied last (the event's time): an older
  -- one arriving late is not applied.
  stripe_state_at BIGINT,
  created_at TIMESTAMP NOT NULL,
  updated_at TIMESTAMP NOT NULL
);
CREATE INDEX subscriptions_plan_idx ON subscriptions (plan_id, user_id);
CREATE INDEX subscriptions_customer_idx ON subscriptions (stripe_customer_id) WHERE stripe_customer_id IS NOT NULL;

-- One row per user and calendar month (UTC): a new month starts a new row,
-- past ones are the history. level: the highest alert reached (0, 80, 100).
CREATE TABLE usage_counters (
  user_id BIGINT NOT NULL REFERENCES users (id),
  period TEXT NOT NULL,
  articles BIGINT NOT NULL DEFAULT 0,
  images BIGINT NOT NULL DEFAULT 0,
  social_posts BIGINT NOT NULL DEFAULT 0,
  level INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (user_id, period)
);
CREATE INDEX usage_counters_level_idx ON usage_counters (period, level, user_id) WHERE level > 0;

-- Every consume call, counted or refused, by its idempotency key: the
-- ledger of usage (who asked, for whom, what was answered: status, the
-- counter after the call, the limit then, null for unlimited) and the
-- replay of the first answer when a key comes again.
CREATE TABLE usage_events (
  id INTEGER PRIMARY KEY,
  idempotency_key TEXT NOT NULL UNIQUE,
  user_id BIGINT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('article', 'image', 'social_post')),
  amount BIGINT NOT NULL CHECK (amount > 0),
  period TEXT NOT NULL,
  counted BOOLEAN NOT NULL,
  overage BIGINT NOT NULL DEFAULT 0,
  status INTEGER NOT NULL,
  used BIGINT NOT NULL,
  quota_limit BIGINT,
  key_id BIGINT,
  client_id TEXT NOT NULL,
  at TIMESTAMP NOT NULL
);
CREATE INDEX usage_events_user_idx ON usage_events (user_id, id);

-- Extra or replacement limits for one user and kind, until an expiry.
CREATE TABLE quota_overrides (
  id INTEGER PRIMARY KEY,
  user_id BIGINT NOT NULL REFERENCES users (id),
  kind TEXT NOT NULL CHECK (kind IN ('article', 'image', 'social_post')),
  mode TEXT NOT NULL CHECK (mode IN ('extra', 'replace')),
  amount BIGINT NOT NULL CHECK (amount >= 0),
  reason TEXT NOT NULL,
  expires_at TIMESTAMP,
  created_by BIGINT REFERENCES users (id),
  created_by_label TEXT NOT NULL,
  created_at TIMESTAMP NOT NULL,
  revoked_at TIMESTAMP
);
CREATE INDEX quota_overrides_user_idx ON quota_overrides (user_id, id);

-- Staff notifications: seen by those holding `permission`; dedupe_key
-- makes "once per user, kind and period" a constraint.
CREATE TABLE notifications (
  id INTEGER PRIMARY KEY,
  permission TEXT NOT NULL,
  kind TEXT NOT NULL,
  subject_user_id BIGINT REFERENCES users (id),
  details TEXT NOT NULL,
  dedupe_key TEXT NOT NULL UNIQUE,
  created_at TIMESTAMP NOT NULL
);
CREATE INDEX notifications_permission_idx ON notifications (permission, id);
-- How far each staff member has read (the bell counts what is newer).
CREATE TABLE notification_seen (
  user_id BIGINT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
  seen_up_to BIGINT NOT NULL
);

-- A closed month's usage beyond the limits, per user and kind; the
-- Stripe invoice item id once billed (a rerun bills nothing twice).
CREATE TABLE overage_reports (
  period TEXT NOT NULL,
  user_id BIGINT NOT NULL REFERENCES users (id),
  kind TEXT NOT NULL CHECK (kind IN ('article', 'image', 'social_post')),
  plan_id BIGINT NOT NULL REFERENCES plans (id),
  used BIGINT NOT NULL,
  quota BIGINT NOT NULL,
  overage BIGINT NOT NULL,
  unit_cents BIGINT,
  amount_cents BIGINT NOT NULL,
  currency TEXT NOT NULL,
  stripe_invoice_item_id TEXT,
  created_at TIMESTAMP NOT NULL,
  PRIMARY KEY (period, user_id, kind)
);
-- A month closes once: the row is written with its report.
CREATE TABLE period_closes (
  period TEXT PRIMARY KEY,
  closed_at TIMESTAMP NOT NULL,
  users BIGINT NOT NULL,
  amount_cents BIGINT NOT NULL
);
