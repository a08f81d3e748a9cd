-- LAP control-plane schema. Migrations are applied in file-name order by
-- platform/src/db/migrate.ts, each in its own transaction, under an advisory lock.

CREATE TABLE agents (
  id                      uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name                    text,
  model                   text NOT NULL,
  prompt                  text,
  harness_id              text NOT NULL DEFAULT 'opencode'
                          CHECK (harness_id IN ('opencode', 'claude-agent-sdk', 'claude-code', 'codex')),
  harness_image           text,
  repo_url                text,
  branch                  text NOT NULL DEFAULT 'main',
  requirements            text,
  mcp_servers             jsonb NOT NULL DEFAULT '[]',
  -- Agent env vars are secrets: the keys are kept in clear (listing, validation),
  -- the values only as one SecretStore ciphertext of the JSON map.
  env_var_keys            text[] NOT NULL DEFAULT '{}',
  env_vars_ciphertext     text,
  -- Optional per-agent LiteLLM gateway override (SDK litellmApiBase / litellmApiKey).
  litellm_api_base        text,
  litellm_api_key_ciphertext text,
  allow_out               text[] NOT NULL DEFAULT '{}',
  deny_out                text[] NOT NULL DEFAULT '{}',
  sandbox_files           jsonb NOT NULL DEFAULT '[]',
  pfp_url                 text,
  created_at              timestamptz NOT NULL DEFAULT now(),
  updated_at              timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX agents_created_at_idx ON agents (created_at DESC, id);

CREATE TABLE skills (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name         text NOT NULL,
  description  text,
  content      text NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX skills_created_at_idx ON skills (created_at DESC, id);

-- An agent embeds its own copy of each attached skill, so deleting a library
-- skill (or attaching one inline without saving it) never changes an agent.
CREATE TABLE agent_skills (
  agent_id     uuid NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
  skill_id     uuid NOT NULL,
  position     integer NOT NULL,
  name         text NOT NULL,
  description  text,
  content      text NOT NULL,
  attached_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (agent_id, skill_id)
);

CREATE TABLE memories (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  agent_id         uuid NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
  text             text NOT NULL CHECK (length(text) > 0),
  tags             text[] NOT NULL DEFAULT '{}',
  type             text,
  priority         integer NOT NULL DEFAULT 0,
  source           text NOT NULL DEFAULT 'ui' CHECK (source IN ('agent', 'slack', 'ui')),
  disabled         boolean NOT NULL DEFAULT false,
  times_applied    integer NOT NULL DEFAULT 0,
  last_applied_at  timestamptz,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX memories_agent_idx ON memories (agent_id, priority DESC, created_at);

CREATE TABLE sessions (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  agent_id         uuid NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
  title            text,
  status           text NOT NULL DEFAULT 'creating' CHECK (status IN ('creating', 'ready', 'dead', 'failed')),
  phase            text NOT NULL DEFAULT 'creating_sandbox',
  phase_detail     text,
  -- The sandbox: a task ARN on ECS, a local process group id in local mode.
  sandbox_ref      text,
  sandbox_url      text,
  vault_admin_url  text,
  tty_url          text,
  warm_sandbox_id  uuid,
  initial_prompt   text,
  response         jsonb,
  failure_reason   text,
  idle_timeout_ms  bigint NOT NULL DEFAULT 86400000,
  last_seen_at     timestamptz NOT NULL DEFAULT now(),
  created_at       timestamptz NOT NULL DEFAULT now(),
  ready_at         timestamptz,
  ended_at         timestamptz
);
CREATE INDEX sessions_agent_idx ON sessions (agent_id, created_at DESC);
CREATE INDEX sessions_created_at_idx ON sessions (created_at DESC, id);
-- The idle reaper and the creating timeout scan only live sessions.
CREATE INDEX sessions_live_idx ON sessions (status, last_seen_at) WHERE status IN ('creating', 'ready');
CREATE INDEX sessions_sandbox_ref_idx ON sessions (sandbox_ref) WHERE sandbox_ref IS NOT NULL;

-- Warm sandboxes are bound to one agent at boot (repo, branch, prompt are baked in);
-- agent_fingerprint changes whenever such a setting changes, so stale ones are never claimed.
-- expires_at is fixed at creation: nothing ever extends it.
CREATE TABLE warm_sandboxes (
  id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  agent_id           uuid NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
  agent_fingerprint  text NOT NULL,
  status             text NOT NULL DEFAULT 'provisioning' CHECK (status IN ('provisioning', 'warm', 'claimed', 'dead')),
  sandbox_ref        text,
  sandbox_url        text,
  vault_admin_url    text,
  session_id         uuid,
  failure_reason     text,
  created_at         timestamptz NOT NULL DEFAULT now(),
  ready_at           timestamptz,
  expires_at         timestamptz NOT NULL,
  claimed_at         timestamptz,
  ended_at           timestamptz
);
CREATE INDEX warm_sandboxes_claim_idx ON warm_sandboxes (agent_id, created_at) WHERE status = 'warm';
CREATE INDEX warm_sandboxes_live_idx ON warm_sandboxes (status) WHERE status IN ('provisioning', 'warm');

-- Durable background jobs (session bring-up, initial prompt delivery, ...).
-- Claimed with FOR UPDATE SKIP LOCKED; a lease (locked_until) that runs out
-- lets another runner resume the job. Payloads never hold secret values.
CREATE TABLE jobs (
  id            bigserial PRIMARY KEY,
  kind          text NOT NULL,
  session_id    uuid,
  payload       jsonb NOT NULL DEFAULT '{}',
  status        text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'done', 'failed')),
  run_at        timestamptz NOT NULL DEFAULT now(),
  attempts      integer NOT NULL DEFAULT 0,
  max_attempts  integer NOT NULL DEFAULT 5,
  locked_by     text,
  locked_until  timestamptz,
  last_error    text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  finished_at   timestamptz
);
CREATE INDEX jobs_ready_idx ON jobs (run_at, id) WHERE status IN ('queued', 'running');
CREATE INDEX jobs_session_idx ON jobs (session_id);
