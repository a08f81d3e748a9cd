-- Credential bindings (issue 12): env_var_hosts maps an agent env var's key to where the vault
-- may swap its real value in: {"KEY": ["api.example.com", "*.example.com", "10.0.0.0/8"]} or
-- {"KEY": {"hosts": [...], "headers": ["private-token"], "body": true}}. Not secret (no values).
-- A key absent here falls back to DEFAULT_ENV_VAR_BINDINGS (@lap/sandbox-protocol); a key with
-- neither is unbound and never swapped.
ALTER TABLE agents ADD COLUMN env_var_hosts jsonb NOT NULL DEFAULT '{}';

-- The bindings are baked into a sandbox at boot (the vault push): a warm sandbox booted with
-- other bindings must not be claimed. Same definition as 010 plus env_var_hosts.
CREATE OR REPLACE FUNCTION lap_agent_fingerprint(p_agent_id uuid) RETURNS text
LANGUAGE sql STABLE AS $$
  SELECT md5(jsonb_build_array(
    a.harness_id, a.harness_image, a.model, a.prompt, a.repo_url, a.branch, a.requirements,
    a.mcp_servers, a.env_var_keys, a.env_vars_ciphertext, a.litellm_api_base,
    a.litellm_api_key_ciphertext, a.allow_out, a.deny_out, a.sandbox_files, a.env_var_hosts,
    (SELECT coalesce(jsonb_agg(jsonb_build_array(s.skill_id, s.position, s.name, s.description, s.content)
                               ORDER BY s.position, s.skill_id), '[]'::jsonb)
       FROM agent_skills s WHERE s.agent_id = a.id),
    (SELECT coalesce(jsonb_agg(jsonb_build_array(m.id, m.text, m.tags, m.type, m.priority) ORDER BY m.id),
                     '[]'::jsonb)
       FROM memories m WHERE m.agent_id = a.id AND NOT m.disabled)
  )::text)
  FROM agents a WHERE a.id = p_agent_id
$$;
