-- Mission Control schema, version 1: the run journal, tool calls, token usage, the audit log
-- and the inventory. Applied by `mission-control migrate` inside one transaction.

-- Tasks and runs mirror the custom resources so history outlives them.

CREATE TABLE tasks (
    uid          text PRIMARY KEY,
    namespace    text NOT NULL,
    name         text NOT NULL,
    generation   bigint NOT NULL DEFAULT 0,
    spec         jsonb NOT NULL,
    ready_reason text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    deleted_at   timestamptz
);
CREATE INDEX tasks_by_name ON tasks (namespace, name, created_at DESC);

CREATE TABLE task_runs (
    uid               text PRIMARY KEY,
    namespace         text NOT NULL,
    name              text NOT NULL,
    task_name         text NOT NULL DEFAULT '',
    spec              jsonb NOT NULL,
    provider          text NOT NULL DEFAULT '',
    model             text NOT NULL DEFAULT '',
    succeeded         text NOT NULL DEFAULT 'Unknown'
                      CHECK (succeeded IN ('Unknown', 'True', 'False')),
    reason            text NOT NULL DEFAULT 'Pending',
    message           text NOT NULL DEFAULT '',
    created_at        timestamptz NOT NULL,
    start_time        timestamptz,
    completion_time   timestamptz,
    steps             integer NOT NULL DEFAULT 0,
    tool_calls        integer NOT NULL DEFAULT 0,
    prompt_tokens     bigint NOT NULL DEFAULT 0,
    completion_tokens bigint NOT NULL DEFAULT 0,
    cost_usd          numeric(20, 10) NOT NULL DEFAULT 0,
    -- The journal's counter: the seq of the run's newest event. Appenders increment it with
    -- UPDATE ... RETURNING, whose row lock serialises them, so seqs have no gaps.
    last_seq          bigint NOT NULL DEFAULT 0,
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX task_runs_by_time ON task_runs (created_at DESC);
CREATE INDEX task_runs_by_namespace ON task_runs (namespace, created_at DESC);
CREATE INDEX task_runs_by_name ON task_runs (namespace, name, created_at DESC);
CREATE INDEX task_runs_by_task ON task_runs (namespace, task_name, created_at DESC);
CREATE INDEX task_runs_by_reason ON task_runs (reason, created_at DESC);

CREATE TABLE task_events (
    run_uid    text NOT NULL REFERENCES task_runs (uid),
    seq        bigint NOT NULL CHECK (seq >= 1),
    type       text NOT NULL CHECK (type <> ''),
    payload    jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_uid, seq)
);

-- LLM traffic: one row per request, one per response.

CREATE TABLE llm_requests (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_uid    text NOT NULL REFERENCES task_runs (uid),
    step       integer NOT NULL,
    provider   text NOT NULL,
    model      text NOT NULL,
    messages   jsonb NOT NULL,
    tools      jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX llm_requests_by_run ON llm_requests (run_uid, id);

CREATE TABLE llm_responses (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    request_id        bigint NOT NULL UNIQUE REFERENCES llm_requests (id),
    run_uid           text NOT NULL REFERENCES task_runs (uid),
    content           jsonb NOT NULL,
    finish_reason     text NOT NULL DEFAULT '',
    error             text NOT NULL DEFAULT '',
    latency_ms        double precision NOT NULL CHECK (latency_ms >= 0),
    prompt_tokens     integer NOT NULL DEFAULT 0,
    completion_tokens integer NOT NULL DEFAULT 0,
    created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX llm_responses_by_run ON llm_responses (run_uid, id);

CREATE TABLE token_usage (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_uid           text NOT NULL REFERENCES task_runs (uid),
    request_id        bigint REFERENCES llm_requests (id),
    provider          text NOT NULL,
    model             text NOT NULL,
    namespace         text NOT NULL,
    task              text NOT NULL DEFAULT '',
    prompt_tokens     integer NOT NULL CHECK (prompt_tokens >= 0),
    completion_tokens integer NOT NULL CHECK (completion_tokens >= 0),
    cost_usd          numeric(20, 10) NOT NULL DEFAULT 0 CHECK (cost_usd >= 0),
    created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX token_usage_by_time ON token_usage (created_at);
CREATE INDEX token_usage_by_namespace ON token_usage (namespace, created_at);
CREATE INDEX token_usage_by_model ON token_usage (provider, model, created_at);
CREATE INDEX token_usage_by_run ON token_usage (run_uid);

-- Tools: the registered catalogue and one record per call.

CREATE TABLE tool_definitions (
    name            text PRIMARY KEY,
    description     text NOT NULL,
    risk            text NOT NULL CHECK (risk IN ('READ_ONLY', 'SAFE_MUTATE', 'DESTRUCTIVE')),
    parameters      jsonb NOT NULL,
    connector       text NOT NULL DEFAULT '',
    timeout_seconds double precision NOT NULL CHECK (timeout_seconds > 0),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE tool_call_records (
    run_uid       text NOT NULL REFERENCES task_runs (uid),
    tool_call_id  text NOT NULL,
    tool          text NOT NULL,
    risk          text NOT NULL CHECK (risk IN ('READ_ONLY', 'SAFE_MUTATE', 'DESTRUCTIVE')),
    arguments     jsonb NOT NULL,
    args_digest   text NOT NULL,
    decision      text NOT NULL,
    approver      text NOT NULL DEFAULT '',
    dry_run       boolean NOT NULL DEFAULT false,
    status        text NOT NULL DEFAULT 'intent'
                  CHECK (status IN ('intent', 'completed', 'failed', 'unknown')),
    output_digest text NOT NULL DEFAULT '',
    error         text NOT NULL DEFAULT '',
    started_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz,
    duration_ms   double precision CHECK (duration_ms >= 0),
    PRIMARY KEY (run_uid, tool_call_id)
);
CREATE INDEX tool_call_records_open ON tool_call_records (run_uid) WHERE status = 'intent';

-- The audit log: append-only, enforced here, and hash-chained by the writer.

CREATE TABLE audit_entries (
    id         bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    actor      text NOT NULL,
    actor_kind text NOT NULL CHECK (actor_kind IN ('user', 'operator')),
    action     text NOT NULL,
    target     text NOT NULL,
    decision   text NOT NULL DEFAULT '',
    outcome    text NOT NULL DEFAULT '',
    run_uid    text,
    namespace  text NOT NULL DEFAULT '',
    details    jsonb NOT NULL,
    created_at timestamptz NOT NULL,
    prev_hash  text NOT NULL CHECK (prev_hash ~ '^[0-9a-f]{64}$'),
    hash       text NOT NULL UNIQUE CHECK (hash ~ '^[0-9a-f]{64}$')
);
CREATE INDEX audit_entries_by_run ON audit_entries (run_uid, id) WHERE run_uid IS NOT NULL;
CREATE INDEX audit_entries_by_time ON audit_entries (created_at);

CREATE FUNCTION audit_entries_reject_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_entries is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

-- Statement-level, so even an UPDATE or DELETE that matches no row is refused.
CREATE TRIGGER audit_entries_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_entries
    FOR EACH STATEMENT EXECUTE FUNCTION audit_entries_reject_change();

REVOKE UPDATE, DELETE, TRUNCATE ON audit_entries FROM PUBLIC;

-- Inventory: items are never deleted; an item gone from its source is marked removed.

CREATE TABLE hosts (
    id         text PRIMARY KEY,
    source     text NOT NULL,
    kind       text NOT NULL,
    name       text NOT NULL,
    namespace  text NOT NULL DEFAULT '',
    node       text NOT NULL DEFAULT '',
    live       jsonb NOT NULL,
    metadata   jsonb NOT NULL,
    first_seen timestamptz NOT NULL,
    last_seen  timestamptz NOT NULL,
    stale      boolean NOT NULL DEFAULT false,
    removed    boolean NOT NULL DEFAULT false,
    removed_at timestamptz
);
CREATE INDEX hosts_by_source ON hosts (source);

CREATE TABLE workloads (LIKE hosts INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
ALTER TABLE workloads ADD PRIMARY KEY (id);
CREATE INDEX workloads_by_source ON workloads (source);
CREATE INDEX workloads_by_namespace ON workloads (namespace, name);

CREATE TABLE services (LIKE hosts INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
ALTER TABLE services ADD PRIMARY KEY (id);
CREATE INDEX services_by_source ON services (source);
