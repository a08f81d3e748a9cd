/**
 * Size budgets of the images (podman's uncompressed size, MB), checked by the rehearsal after each
 * build: Fargate pulls the whole image on every cold start (docs/images.md, README "Images").
 * Keyed by Dockerfile, and by harness for the harness images.
 */
export const IMAGE_BUDGETS_MB: Record<string, number> = {
  'platform/Dockerfile': 250,
  'sandbox/vault/Dockerfile': 250,
  'sandbox/egress-gateway/Dockerfile': 15,
  'sandbox/harness/Dockerfile (opencode)': 600,
  'sandbox/harness/Dockerfile (claude-agent-sdk)': 850,
  'sandbox/harness/Dockerfile (claude-code)': 800,
  'sandbox/harness/Dockerfile (codex)': 850,
};
