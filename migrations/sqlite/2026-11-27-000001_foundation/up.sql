CREATE TABLE users (
  id INTEGER PRIMARY KEY,
  email TEXT NOT NULL,
  email_lower TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL DEFAULT '',
  company TEXT NOT NULL DEFAULT '',
  password_hash TEXT,
  user_type TEXT NOT NULL DEFAULT 'EXTERNAL' CHECK (user_type IN ('INTERNAL', 'EXTERNAL')),
  status TEXT NOT NULL DEFAULT 'ACTIVE' CHECK (status IN ('ACTIVE', 'PENDING', 'SUSPENDED', 'INACTIVE')),
  status_reason TEXT,
  status_changed_at TIMESTAMP,
  totp_secret TEXT,
  totp_enabled BOOLEAN NOT NULL DEFAULT FALSE,
  totp_last_step BIGINT,
  locale TEXT,
  last_login_at TIMESTAMP,
  created_at TIMESTAMP NOT NULL,
  updated_at TIMESTAMP NOT NULL,
  deleted_at TIMESTAMP
);
CREATE INDEX users_created_idx ON users (created_at, id);

CREATE TABLE roles (
  id INTEGER PRIMARY KEY,
  key TEXT NOT NULL UNIQUE,
  name_en TEXT NOT NULL,
  name_fr TEXT NOT NULL,
  scope TEXT NOT NULL CHECK (scope IN ('PLATFORM', 'WORKSPACE')),
  built_in BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE TABLE role_permissions (
  role_id BIGINT NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
  permission TEXT NOT NULL,
  PRIMARY KEY (role_id, permission)
);

CREATE TABLE user_roles (
  user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  role_id BIGINT NOT NULL REFERENCES roles (id),
  granted_at TIMESTAMP NOT NULL,
  granted_by BIGINT REFERENCES users (id) ON DELETE SET NULL,
  PRIMARY KEY (user_id, role_id)
);
CREATE INDEX user_roles_role_idx ON user_roles (role_id);

CREATE TABLE workspaces (
  id INTEGER PRIMARY KEY,
  slug TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  is_base BOOLEAN NOT NULL DEFAULT FALSE,
  settings TEXT NOT NULL DEFAULT '{}',
  created_at TIMESTAMP NOT NULL,
  deleted_at TIMESTAMP
);

CREATE TABLE workspace_members (
  workspace_id BIGINT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  role TEXT NOT NULL CHECK (role IN ('MANAGER', 'MEMBER')),
  created_at TIMESTAMP NOT NULL,
  PRIMARY KEY (workspace_id, user_id)
);
CREATE INDEX workspace_members_user_idx ON workspace_members (user_id);

CREATE TABLE audit_events (
  id INTEGER PRIMARY KEY,
  at TIMESTAMP NOT NULL,
  actor_type TEXT NOT NULL CHECK (actor_type IN ('user', 'api_key', 'system', 'anonymous')),
  actor_id BIGINT,
  actor_label TEXT NOT NULL,
  action TEXT NOT NULL,
  target_type TEXT,
  target_id TEXT,
  workspace_id BIGINT,
  outcome TEXT NOT NULL CHECK (outcome IN ('allowed', 'denied')),
  ip TEXT,
  user_agent TEXT,
  client_id TEXT,
  request_id TEXT,
  details TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_events_at_idx ON audit_events (at, id);
CREATE INDEX audit_events_actor_idx ON audit_events (actor_id, at);
CREATE INDEX audit_events_target_idx ON audit_events (target_type, target_id, at);
CREATE INDEX audit_events_action_idx ON audit_events (action, at);

CREATE TABLE sessions (
  id_hash TEXT PRIMARY KEY,
  user_id BIGINT REFERENCES users (id) ON DELETE CASCADE,
  data TEXT NOT NULL,
  expires_at TIMESTAMP NOT NULL,
  created_at TIMESTAMP NOT NULL,
  last_seen_at TIMESTAMP NOT NULL,
  ip TEXT,
  user_agent TEXT,
  mfa_at TIMESTAMP
);
CREATE INDEX sessions_user_idx ON sessions (user_id);
CREATE INDEX sessions_last_seen_idx ON sessions (last_seen_at);

CREATE TABLE login_events (
  id INTEGER PRIMARY KEY,
  user_id BIGINT REFERENCES users (id) ON DELETE SET NULL,
  at TIMESTAMP NOT NULL,
  ip TEXT,
  user_agent TEXT,
  client_id TEXT NOT NULL,
  event TEXT NOT NULL,
  success BOOLEAN NOT NULL,
  reason TEXT
);
CREATE INDEX login_events_user_idx ON login_events (user_id, at);

CREATE TABLE one_time_tokens (
  id INTEGER PRIMARY KEY,
  token_hash TEXT NOT NULL UNIQUE,
  purpose TEXT NOT NULL CHECK (purpose IN ('first_admin', 'admin_invite', 'invite', 'password_reset')),
  user_id BIGINT REFERENCES users (id) ON DELETE CASCADE,
  created_at TIMESTAMP NOT NULL,
  expires_at TIMESTAMP NOT NULL,
  used_at TIMESTAMP
);

CREATE TABLE recovery_codes (
  id INTEGER PRIMARY KEY,
  user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  code_hash TEXT NOT NULL,
  used_at TIMESTAMP
);
CREATE INDEX recovery_codes_user_idx ON recovery_codes (user_id);

-- Built-in roles: keys stay English, labels in both languages.
INSERT INTO roles (id, key, name_en, name_fr, scope, built_in) VALUES
  (1, 'admin',    'Administrator', 'Administrateur', 'PLATFORM',  TRUE),
  (2, 'support',  'Support',       'Support',        'PLATFORM',  TRUE),
  (3, 'tester',   'Tester',        'Testeur',        'PLATFORM',  TRUE),
  (4, 'analyst',  'Analyst',       'Analyste',       'PLATFORM',  TRUE),
  (5, 'manager',  'Manager',       'Gestionnaire',   'WORKSPACE', TRUE),
  (6, 'member',   'Member',        'Utilisateur',    'WORKSPACE', TRUE);

INSERT INTO role_permissions (role_id, permission) VALUES
  (1, 'admin.access'), (1, 'users.read'), (1, 'users.write'), (1, 'users.delete'), (1, 'notes.write'),
  (1, 'billing.read'), (1, 'billing.write'), (1, 'usage.read'), (1, 'quotas.manage'),
  (1, 'jobs.read'), (1, 'jobs.write'), (1, 'audit.read'), (1, 'roles.manage'), (1, 'settings.manage'),
  (1, 'workspaces.read'), (1, 'workspaces.manage'), (1, 'workspace.content'), (1, 'workspace.members.manage'),
  (1, 'workspace.settings.manage'), (1, 'api_keys.manage'), (1, 'sessions.manage'), (1, 'exports.run'),
  (2, 'admin.access'), (2, 'users.read'), (2, 'notes.write'), (2, 'billing.read'), (2, 'usage.read'),
  (2, 'jobs.read'), (2, 'audit.read'), (2, 'workspaces.read'),
  (3, 'admin.access'), (3, 'workspaces.read'),
  (4, 'admin.access'), (4, 'users.read'), (4, 'billing.read'), (4, 'usage.read'), (4, 'jobs.read'),
  (4, 'audit.read'), (4, 'workspaces.read'), (4, 'exports.run'),
  (5, 'workspace.read'), (5, 'workspace.content'), (5, 'workspace.members.manage'), (5, 'workspace.settings.manage'),
  (6, 'workspace.read'), (6, 'workspace.content');

INSERT INTO workspaces (id, slug, name, is_base, settings, created_at) VALUES
  (1, 'base', 'BASE', TRUE, '{}', CURRENT_TIMESTAMP);
