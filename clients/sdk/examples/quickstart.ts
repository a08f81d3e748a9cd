// The SDK README's example (seed 000), as written, plus three lines that print what happened.
// Run against any platform: LITELLM_AGENT_PLATFORM_URL=... LITELLM_AGENT_PLATFORM_KEY=... node --import tsx examples/quickstart.ts
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
console.log('session', session.id, session.status);
const reply = await session.send('Now show me the routes file.');
console.log('reply', reply.text);
// Runs until the session ends (`lap sessions rm <id>`, or the idle reaper).
for await (const ev of session.events()) console.log(ev.type, ev);
console.log('session ended');
