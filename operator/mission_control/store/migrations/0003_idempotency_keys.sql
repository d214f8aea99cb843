-- Mission Control schema, version 3: a caller-chosen key on every LLM request and usage row, so
-- that a write retried after a lost acknowledgement finds the row it already wrote instead of
-- writing (and counting) it twice. Tool calls are keyed by (run_uid, tool_call_id) already, and
-- responses by their request.

ALTER TABLE llm_requests ADD COLUMN request_key text CHECK (request_key <> '');
CREATE UNIQUE INDEX llm_requests_key ON llm_requests (run_uid, request_key)
    WHERE request_key IS NOT NULL;

ALTER TABLE token_usage ADD COLUMN usage_key text CHECK (usage_key <> '');
CREATE UNIQUE INDEX token_usage_key ON token_usage (run_uid, usage_key)
    WHERE usage_key IS NOT NULL;
