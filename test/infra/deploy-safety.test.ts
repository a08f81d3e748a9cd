/**
 * What makes a first `cdk deploy` and the updates after it safe, checked on the synthesized
 * templates: CDK's recommended feature flags, no reserved concurrency (new accounts refuse it),
 * nothing named that can outlive a failed first create, and for each documented config change
 * no export in use disappears and the stateful resources replaced or deleted are exactly the
 * ones `npm run diff` flags (docs/upgrading.md lists the same changes).
 */
import fs from 'node:fs';
import path from 'node:path';
import * as cxapi from 'aws-cdk-lib/cx-api';
import { blockedExports, statefulChanges, type StatefulChange } from '../../tools/synth-diff';
import { REPO_ROOT, configWith, synthesize } from './support/synth';
import type { CfnTemplate } from './support/template-model';
import { variants } from './support/variants';

const templates = variants().map((v) => ({
  name: v.name,
  json: synthesize(v.envName, v.input, { nag: false }).json,
}));

describe('cdk.json', () => {
  it("sets every feature flag CDK recommends, to the recommended value (synth prints no 'not configured' notice)", () => {
    const context = (
      JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8')) as {
        context: Record<string, unknown>;
      }
    ).context;
    const wrong = Object.entries(cxapi.CURRENTLY_RECOMMENDED_FLAGS)
      .filter(([flag, recommended]) => JSON.stringify(context[flag]) !== JSON.stringify(recommended))
      .map(([flag]) => flag);
    expect(wrong).toEqual([]);
  });
});

describe.each(templates.map((t) => [t.name, t.json] as const))('%s', (_name, json) => {
  it('reserves no Lambda concurrency (accounts with a quota of 10 refuse any)', () => {
    const reserved = Object.entries(json.Resources)
      .filter(
        ([, r]) =>
          r.Type === 'AWS::Lambda::Function' && r.Properties?.ReservedConcurrentExecutions !== undefined,
      )
      .map(([id]) => id);
    expect(reserved).toEqual([]);
  });

  it('names nothing that can outlive a failed first create (its retry would fail with "already exists")', () => {
    // Retain and Snapshot survive a create's rollback (a snapshot only if deletion protection
    // stops the delete); RetainExceptOnCreate and Delete do not.
    const survivors = Object.entries(json.Resources).filter(([, r]) =>
      ['Retain', 'Snapshot'].includes(r.DeletionPolicy ?? ''),
    );
    expect(survivors.length).toBeGreaterThan(0);
    const named = survivors.flatMap(([id, r]) =>
      Object.entries(r.Properties ?? {})
        // Physical names; DatabaseName/DBName name the database inside the engine, not the resource.
        .filter(
          ([key, value]) =>
            /(Name|Identifier)$/.test(key) &&
            !/^(DatabaseName|DBName)$/.test(key) &&
            typeof value === 'string',
        )
        .map(([key, value]) => `${id}.${key} = ${String(value)}`),
    );
    expect(named).toEqual([]);
  });

  it('exports nothing and imports nothing: no stack boundary can block an update', () => {
    expect(Object.values(json.Outputs ?? {}).filter((o) => o.Export)).toEqual([]);
    expect(JSON.stringify(json)).not.toMatch(/Fn::ImportValue|Fn::GetStackOutput/);
  });
});

/** A stateful change as the test expects it: logical id prefix and kind. */
type Expected = Array<[string, StatefulChange['change']]>;

/** The config changes docs/upgrading.md documents, and what each replaces or deletes. */
const DOCUMENTED_CHANGES: Array<[string, string, Record<string, unknown>, Expected]> = [
  [
    'database.engine aurora-serverless-v2 -> instance',
    'prod',
    { database: { engine: 'instance', instanceType: 't4g.small' } },
    [
      ['DataDatabaseCluster', 'deleted (retained)'],
      ['DataDatabaseClusterReader', 'deleted'],
      ['DataDatabaseClusterWriter', 'deleted'],
      ['DataDatabasePostgresLogs', 'replaced'],
    ],
  ],
  ['edge.internetFacing true -> false', 'prod', { edge: { internetFacing: false } }, []],
  ['database.publiclyAccessible false -> true', 'prod', { database: { publiclyAccessible: true } }, []],
  [
    'network.availabilityZones 3 -> 2',
    'prod',
    { network: { availabilityZones: ['eu-west-1a', 'eu-west-1b'], natGateways: 2 } },
    [],
  ],
  ['network.nat gateway -> instance', 'prod', { network: { nat: 'instance' } }, []],
  [
    'sandbox.egress enforced -> advisory',
    'prod',
    { sandbox: { egress: 'advisory' } },
    [
      ['DataSecretsEgressTokenKey', 'deleted (retained)'],
      ['DataVaultCAGatewayCertificate', 'deleted (retained)'],
      ['DataVaultCAGatewayPrivateKey', 'deleted (retained)'],
      ['NetworkS3PrefixListLogs', 'deleted (retained)'],
      ['PlatformEgressGatewayLogs', 'deleted (retained)'],
    ],
  ],
  ['sandbox.egress advisory -> enforced', 'dev', { sandbox: { egress: 'enforced' } }, []],
  [
    'platform.services combined -> split',
    'dev',
    { platform: { services: 'split' } },
    [['PlatformServicesalllogs', 'deleted']],
  ],
];

describe('documented config changes', () => {
  it.each(DOCUMENTED_CHANGES)(
    '%s: no export in use disappears; stateful changes as documented',
    (_change, envName, patch, expected) => {
      const before = synthesize(envName, undefined, { nag: false }).json;
      const after = synthesize(envName, configWith(envName, patch), { nag: false }).json;
      expect(
        blockedExports({ [`lap-${envName}`]: before as never }, { [`lap-${envName}`]: after as never }),
      ).toEqual([]);
      // The function npm run diff flags with: what it lists is what the docs say.
      const flagged = statefulChanges(`lap-${envName}`, before as never, after as never)
        .map((c): [string, string] => [c.logicalId.replace(/[0-9A-F]{8}$/, ''), c.change])
        .sort();
      expect(flagged).toEqual([...expected].sort());
    },
  );

  it('sees an export that an update removes while another stack imports it', () => {
    const producer = (exported: boolean): CfnTemplate => ({
      Resources: { Db: { Type: 'AWS::RDS::DBCluster' } },
      Outputs: exported
        ? { Host: { Value: { 'Fn::GetAtt': ['Db', 'Endpoint.Address'] }, Export: { Name: 'data:Host' } } }
        : {},
    });
    const consumer: CfnTemplate = {
      Resources: {
        Fn: {
          Type: 'AWS::Lambda::Function',
          Properties: { Environment: { Variables: { DB_HOST: { 'Fn::ImportValue': 'data:Host' } } } },
        },
      },
    };
    expect(
      blockedExports(
        { data: producer(true), app: consumer } as never,
        { data: producer(false), app: consumer } as never,
      ),
    ).toEqual([{ exporter: 'data', importer: 'app', name: 'data:Host', change: 'removed' }]);
  });
});
