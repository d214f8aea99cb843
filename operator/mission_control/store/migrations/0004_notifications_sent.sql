-- Mission Control schema, version 4: the notifications sent about runs' transitions, one row per
-- (run, transition, held call), so a transition the run reports again after an operator restart
-- is not sent again. The row is claimed before the message goes out (at most once); outcome
-- says what became of it. Receivers' URLs carry tokens and are never stored.

CREATE TABLE notifications_sent (
    run_uid text NOT NULL CHECK (run_uid <> ''),
    transition text NOT NULL CHECK (transition <> ''),
    tool_call_id text NOT NULL DEFAULT '',
    namespace text NOT NULL,
    name text NOT NULL,
    outcome text NOT NULL DEFAULT 'pending'
        CHECK (outcome IN ('pending', 'sent', 'failed', 'partial')),
    receivers integer NOT NULL DEFAULT 0 CHECK (receivers >= 0),
    claimed_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    PRIMARY KEY (run_uid, transition, tool_call_id)
);
