/**
 * The deployments the offline deployability tests cover: every config in config/ as written
 * and with the other egress mode, plus the variants a config can switch on (a single database
 * instance, HTTPS with WAF and endpoints in development, an imported VPC).
 */
import { CONFIG_ENVS, configWith, readConfigFile } from './synth';

export interface Variant {
  name: string;
  envName: string;
  input: Record<string, unknown>;
  /** The VPC is imported: its routes and NAT are the customer's (npm run preflight checks them). */
  importedVpc?: boolean;
}

function flippedEgress(envName: string): 'enforced' | 'advisory' {
  const config = readConfigFile(envName) as { production?: boolean; sandbox?: { egress?: string } };
  const egress = config.sandbox?.egress ?? (config.production ? 'enforced' : 'advisory');
  return egress === 'enforced' ? 'advisory' : 'enforced';
}

/** A subnet id of the real shape (17 hex digits): `group` and `zone` make it unique. */
const subnet = (group: number, zone: number) => `subnet-0${group}${zone}${'0'.repeat(14)}`;

const existingVpc = (region: string, sandbox: boolean) => ({
  vpcId: 'vpc-0123456789abcdef0',
  vpcCidr: '10.20.0.0/16',
  availabilityZones: [`${region}a`, `${region}b`],
  publicSubnetIds: [subnet(0, 1), subnet(0, 2)],
  privateSubnetIds: [subnet(1, 1), subnet(1, 2)],
  ...(sandbox ? { sandboxSubnetIds: [subnet(3, 1), subnet(3, 2)] } : {}),
  isolatedSubnetIds: [subnet(2, 1), subnet(2, 2)],
});

export function variants(): Variant[] {
  const list: Variant[] = [];
  for (const envName of CONFIG_ENVS) {
    list.push({ name: envName, envName, input: readConfigFile(envName) });
    const egress = flippedEgress(envName);
    list.push({
      name: `${envName} with egress ${egress}`,
      envName,
      input: configWith(envName, { sandbox: { egress } }),
    });
  }
  list.push(
    {
      name: 'prod with a single database instance',
      envName: 'prod',
      input: configWith('prod', { database: { engine: 'instance', instanceType: 't4g.small' } }),
    },
    {
      name: 'dev with HTTPS, WAF and interface endpoints',
      envName: 'dev',
      input: configWith('dev', {
        network: { interfaceEndpoints: true },
        edge: {
          certificateArn:
            'arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555',
          waf: true,
          wafLogging: true,
        },
      }),
    },
    {
      name: 'dev in an imported VPC',
      envName: 'dev',
      input: configWith('dev', { network: { existingVpc: existingVpc('us-east-1', false) } }),
      importedVpc: true,
    },
    {
      name: 'prod in an imported VPC',
      envName: 'prod',
      input: configWith('prod', { network: { existingVpc: existingVpc('eu-west-1', true) } }),
      importedVpc: true,
    },
  );
  return list;
}
