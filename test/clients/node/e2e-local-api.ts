/**
 * node:test file, run by ../e2e-local-api.test.ts. End to end against REAL local mode
 * (platform/src/local/main.ts: embedded PostgreSQL, API, worker, local launcher running
 * the real vault and harness), with the harness's LLM gateway pointed at a fake
 * OpenAI/Anthropic-compatible server (LITELLM_API_BASE). This file boots no sandbox:
 * the agents, skills and memory API through the SDK, and the CLI's login, agent
 * commands and error lines in a real pseudo-terminal. Sessions: e2e-local-sessions.ts.
 */
import { expect } from 'expect';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { Agent, LapApiError, Skill } from '@litellm/agent-sdk';
import { CliTerminal, runLap } from '../support/cli-terminal.js';
import { startFakeLlmGateway, type FakeLlmGateway } from '../../support/fake-llm-gateway.js';
import { startLocalPlatform, type LocalPlatform } from '../support/local-platform.js';
import { unusedPort } from '../support/loopback.js';

let llm: FakeLlmGateway;
let lap: LocalPlatform;
let connection: { apiKey: string; baseUrl: string };
let home: string;

before(async () => {
  llm = await startFakeLlmGateway();
  lap = await startLocalPlatform({ litellmApiBase: llm.url });
  connection = { apiKey: lap.masterKey, baseUrl: lap.url };
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'lap-e2e-home-'));
});

after(async () => {
  await lap?.stop();
  await llm?.close();
  if (home) fs.rmSync(home, { recursive: true, force: true });
});

test('SDK: agents, skills and memory against local mode', async () => {
  const agent = await Agent.create({
    ...connection,
    name: 'e2e-blueprint',
    model: 'openai/fake-model',
    prompt: 'You are terse.',
    envVars: { GITHUB_TOKEN: 'ghp_e2e_secret' },
    litellmApiBase: llm.url,
    litellmApiKey: 'sk-agent-gateway-key',
  });
  expect(agent).toMatchObject({
    name: 'e2e-blueprint',
    harnessId: 'opencode',
    branch: 'main',
    supportsTui: false,
  });
  expect(agent.envVars).toEqual({ GITHUB_TOKEN: '<redacted>' });
  expect((await Agent.get(connection, agent.id)).model).toBe('openai/fake-model');
  expect((await Agent.list(connection, { search: 'e2e-blueprint' })).data.map((a) => a.id)).toEqual([
    agent.id,
  ]);
  await agent.update({ prompt: 'You are very terse.' });
  expect(agent.prompt).toBe('You are very terse.');

  const skill = await Skill.create(connection, { name: 'reviewer', content: 'Review with care.' });
  await agent.attachSkill({ skillId: skill.id });
  expect(agent.attachedSkillIds).toEqual([skill.id]);
  await agent.detachSkill();
  expect(agent.attachedSkillIds).toEqual([]);

  const memory = await agent.addMemory({ text: 'the team prefers tabs', tags: ['style'] });
  expect((await agent.listMemories({ q: 'tabs' })).map((m) => m.id)).toEqual([memory.id]);
  await agent.deleteMemory(memory.id);

  await agent.delete();
  const gone = await Agent.get(connection, agent.id).catch((e: unknown) => e);
  expect(gone).toBeInstanceOf(LapApiError);
  expect(gone).toMatchObject({ status: 404, detail: `agent '${agent.id}' not found` });
});

test('lap CLI against local mode in a pseudo-terminal: login, agents, error lines', async () => {
  const login = new CliTerminal(['login'], { HOME: home });
  await login.waitFor('LAP URL:');
  login.write(`${lap.url}\r`);
  await login.waitFor('API key');
  login.write(`${lap.masterKey}\r`);
  expect(await login.exitCode()).toBe(0);
  expect(fs.statSync(path.join(home, '.lap', 'config.json')).mode & 0o777).toBe(0o600);
  const env = { HOME: home };

  const created = await runLap(
    ['agents', 'create', '--model', 'openai/fake-model', '--name', 'e2e-cli'],
    env,
  );
  expect(created.code).toBe(0);
  const listed = await runLap(['agents', 'list'], env);
  expect(listed.text).toMatch(/^ID\s+NAME\s+MODEL\s+HARNESS\s+TEMPLATE\s*$/m);
  expect(listed.text).toMatch(/^[0-9a-f-]{36}\s+e2e-cli\s+openai\/fake-model\s+opencode/m);
  const removed = await runLap(['agents', 'rm', 'e2e-cli'], env);
  expect(removed.text).toMatch(/✓ agent e2e-cli deleted/);
  expect((await Agent.list(connection, { search: 'e2e-cli' })).total).toBe(0);

  const badKey = await runLap(['--api-key', 'wrong-key', 'agents', 'list'], env);
  expect(badKey.code).toBe(1);
  expect(badKey.text.trim()).toMatch(
    /^error: the platform at http:\/\/127\.0\.0\.1:\d+ rejected the API key \(401 /,
  );
  const port = await unusedPort();
  const unreachable = await runLap(['--base-url', `http://127.0.0.1:${port}`, 'ps'], env);
  expect(unreachable.text.trim()).toMatch(/^error: cannot reach the platform at .*ECONNREFUSED/);
  const unknown = await runLap(['run', 'no-such-agent'], env);
  expect(unknown.text.trim()).toBe("error: no agent named 'no-such-agent' (see `lap agents list`)");
});
