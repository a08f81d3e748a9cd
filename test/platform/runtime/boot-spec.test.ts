import type pg from 'pg';
import { getAgent } from '../../../platform/src/db/agents';
import { createPool } from '../../../platform/src/db/pool';
import { buildBootSpec, skillSlug } from '../../../platform/src/sandbox/boot-spec';
import { createTestDatabase, type TestDatabase } from '../../support/postgres';

describe('boot spec', () => {
  let database: TestDatabase;
  let pool: pg.Pool;
  beforeAll(async () => {
    database = await createTestDatabase();
    pool = createPool({ url: database.url });
  });
  afterAll(async () => {
    await pool.end();
    await database.drop();
  });

  it('gives skills unique, file-system-safe slugs', () => {
    const taken = new Set<string>();
    expect(skillSlug('Code Review!', taken)).toBe('code-review');
    expect(skillSlug('code review', taken)).toBe('code-review-2');
    expect(skillSlug('../../etc/passwd', taken)).toBe('etc-passwd');
    expect(skillSlug('日本語', taken)).toBe('skill');
  });

  it('falls back to PREINSTALLED_GITHUB_REPO when the agent has no repo, writes SKILL.md files and sandbox files', async () => {
    const { rows } = await pool.query<{ id: string }>(
      `INSERT INTO agents (model, prompt, requirements, sandbox_files) VALUES ('m', 'Hi.', 'requests==2.0',
         '[{"name":"a","sandbox_path":"/etc/a.txt","content":"YQ==","content_type":"text/plain","size":1}]') RETURNING id`,
    );
    const id = rows[0]!.id;
    await pool.query(
      `INSERT INTO agent_skills (agent_id, skill_id, position, name, description, content)
       VALUES ($1, gen_random_uuid(), 1, 'Deploy Steps', 'how: we "ship"', 'Run make deploy.')`,
      [id],
    );
    const agent = (await getAgent(pool, id))!;
    const spec = await buildBootSpec(pool, id, agent, {
      litellmApiBase: 'https://gw.example.com',
      preinstalledGithubRepo: 'https://github.com/acme/starter',
    });
    expect(spec).toMatchObject({
      repo_url: 'https://github.com/acme/starter',
      branch: 'main',
      requirements: 'requests==2.0',
      litellm_api_base: 'https://gw.example.com',
    });
    expect(spec.prompt).toMatch(/^Hi\.\n\n<!-- skill:[0-9a-f-]{36} -->\nRun make deploy\.$/);
    expect(spec.files.map((f) => f.path)).toEqual(['/etc/a.txt', '~/.claude/skills/deploy-steps/SKILL.md']);
    expect(Buffer.from(spec.files[1]!.content_base64, 'base64').toString()).toBe(
      '---\nname: deploy-steps\ndescription: "how: we \\"ship\\""\n---\n\nRun make deploy.\n',
    );
    await pool.query(
      `UPDATE agents SET repo_url = 'https://github.com/acme/own', branch = 'dev' WHERE id = $1`,
      [id],
    );
    const own = await buildBootSpec(pool, id, (await getAgent(pool, id))!, {
      litellmApiBase: 'https://gw.example.com',
      preinstalledGithubRepo: 'https://github.com/acme/starter',
    });
    expect(own).toMatchObject({ repo_url: 'https://github.com/acme/own', branch: 'dev' });
  });
});
