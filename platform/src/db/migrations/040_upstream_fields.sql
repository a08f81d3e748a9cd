-- Fields the upstream platform's clients read (lap-reference section 9).
--
-- agents.template_id: free text the clients send and show (the SDK's templateId); the
-- platform stores and returns it, nothing else reads it.
-- sessions.harness_session_id / warm_sandboxes.harness_session_id: the id of the
-- conversation the harness drives (opencode: its session id), copied from the harness's
-- GET /health when the platform sees it; a claimed warm sandbox hands its id to the session.
ALTER TABLE agents ADD COLUMN template_id text;
ALTER TABLE sessions ADD COLUMN harness_session_id text;
ALTER TABLE warm_sandboxes ADD COLUMN harness_session_id text;
