-- Warm pool and reaper support.
--
-- lap_agent_fingerprint(agent): a hash of every agent setting baked into a sandbox at
-- boot (harness, image, model, prompt, repo, branch, requirements, MCP servers, env
-- vars, gateway override, egress lists, files, attached skills, enabled memories, since
-- the prompt carries them). A warm sandbox is claimable only while its fingerprint
-- equals the agent's current one; top-up, claim and stale recycling all use this one
-- definition. NULL for an agent that no longer exists.
CREATE FUNCTION lap_agent_fingerprint(p_agent_id uuid) RETURNS text
LANGUAGE sql STABLE AS $$
  SELECT md5(jsonb_build_array(
    a.harness_id, a.harness_image, a.model, a.prompt, a.repo_url, a.branch, a.requirements,
    a.mcp_servers, a.env_var_keys, a.env_vars_ciphertext, a.litellm_api_base,
    a.litellm_api_key_ciphertext, a.allow_out, a.deny_out, a.sandbox_files,
    (SELECT coalesce(jsonb_agg(jsonb_build_array(s.skill_id, s.position, s.name, s.description, s.content)
                               ORDER BY s.position, s.skill_id), '[]'::jsonb)
       FROM agent_skills s WHERE s.agent_id = a.id),
    (SELECT coalesce(jsonb_agg(jsonb_build_array(m.id, m.text, m.tags, m.type, m.priority) ORDER BY m.id),
                     '[]'::jsonb)
       FROM memories m WHERE m.agent_id = a.id AND NOT m.disabled)
  )::text)
  FROM agents a WHERE a.id = p_agent_id
$$;

-- Task events and the orphan sweep look sandboxes up by their task ARN.
CREATE INDEX warm_sandboxes_sandbox_ref_idx ON warm_sandboxes (sandbox_ref) WHERE sandbox_ref IS NOT NULL;
-- TTL recycling scans live rows by expiry.
CREATE INDEX warm_sandboxes_expires_idx ON warm_sandboxes (expires_at) WHERE status IN ('provisioning', 'warm');
