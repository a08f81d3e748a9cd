/* eslint-disable @typescript-eslint/no-unused-vars -- the README's example (seed 000), kept exactly as written */
// Run: LITELLM_AGENT_PLATFORM_URL=http://127.0.0.1:3000 LITELLM_AGENT_PLATFORM_KEY=<MASTER_KEY> node --import tsx examples/readme-example.ts
import { Agent } from '@litellm/agent-sdk';
const agent = await Agent.create({
  // LAP — control plane
  apiKey: process.env.LITELLM_AGENT_PLATFORM_KEY!,
  baseUrl: process.env.LITELLM_AGENT_PLATFORM_URL!,
  model: 'anthropic/claude-haiku-4-5',
  templateId: 'tpl_opencode_my_repo',
  prompt: 'You are a senior reviewer.',
});
const session = await agent.createSession({
  initialPrompt: 'In one sentence, what is this repo about?',
});
const reply = await session.send('Now show me the routes file.');
for await (const ev of session.events()) console.log(ev.type, ev);
