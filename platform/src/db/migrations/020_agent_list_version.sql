-- The agent list's version: one counter that every committed change to the agents
-- table moves (insert, update including touchAgent, delete, truncate). The API keys
-- its cache of rendered list pages on it, so a page costs one single-row read while
-- nothing changed. An UPDATE rather than a sequence on purpose: the new value becomes
-- visible exactly when the change commits (nextval would show it before, and a page
-- read in between would be cached under the new version with the old rows).
CREATE TABLE agent_list_version (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  version bigint NOT NULL
);
INSERT INTO agent_list_version (version) VALUES (1);

CREATE FUNCTION lap_bump_agent_list_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  UPDATE agent_list_version SET version = version + 1;
  RETURN NULL;
END
$$;

CREATE TRIGGER agents_bump_list_version
  AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON agents
  FOR EACH STATEMENT EXECUTE FUNCTION lap_bump_agent_list_version();
