/**
 * The synthesized deployment, read the way CloudFormation and `cdk deploy` read it: the image
 * assets (what `cdk deploy` builds), and the templates, whose intrinsic functions are resolved
 * against the rehearsal's stand-ins for the resources a deploy creates.
 */
import fs from 'node:fs';
import path from 'node:path';

export interface ImageAsset {
  hash: string;
  /** The staged build context (cdk.out/asset.<hash>), cut down by the image's dockerignore. */
  directory: string;
  dockerFile: string;
  buildArgs: Record<string, string>;
}

interface Template {
  Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }>;
}

/** A CloudFormation container definition, as written in the template (PascalCase). */
export interface ContainerDefinition {
  Name: string;
  Image: unknown;
  Essential?: boolean;
  Environment?: Array<{ Name: string; Value: unknown }>;
  Secrets?: Array<{ Name: string; ValueFrom: unknown }>;
  MountPoints?: Array<{ SourceVolume: string; ContainerPath: string; ReadOnly?: boolean }>;
  DependsOn?: Array<{ ContainerName: string; Condition: string }>;
  HealthCheck?: {
    Command: string[];
    Interval?: number;
    Timeout?: number;
    Retries?: number;
    StartPeriod?: number;
  };
  PortMappings?: Array<{ ContainerPort: number }>;
  LinuxParameters?: { InitProcessEnabled?: boolean };
  LogConfiguration?: { LogDriver: string; Options?: Record<string, unknown> };
  Command?: string[];
  EntryPoint?: string[];
  [key: string]: unknown;
}

export interface TaskDefinitionResource {
  logicalId: string;
  family: string;
  properties: Record<string, unknown> & {
    ContainerDefinitions: ContainerDefinition[];
    Volumes?: Array<{ Name: string }>;
  };
}

/** What a deploy would have created, by resource type: the rehearsal's answer for each. */
export type PhysicalResolver = (ref: {
  stack: string;
  logicalId: string;
  type: string;
  attribute: string | null;
}) => string;

export class CloudAssembly {
  private readonly templates = new Map<string, Template>();

  constructor(readonly directory: string) {
    for (const file of fs.readdirSync(directory).filter((f) => f.endsWith('.template.json'))) {
      this.templates.set(
        file.replace(/\.template\.json$/, ''),
        JSON.parse(fs.readFileSync(path.join(directory, file), 'utf8')) as Template,
      );
    }
  }

  /** Every docker image asset of every stack, once each. */
  imageAssets(): ImageAsset[] {
    const assets = new Map<string, ImageAsset>();
    for (const file of fs.readdirSync(this.directory).filter((f) => f.endsWith('.assets.json'))) {
      const manifest = JSON.parse(fs.readFileSync(path.join(this.directory, file), 'utf8')) as {
        dockerImages?: Record<
          string,
          { source: { directory: string; dockerFile?: string; dockerBuildArgs?: Record<string, string> } }
        >;
      };
      for (const [hash, { source }] of Object.entries(manifest.dockerImages ?? {})) {
        assets.set(hash, {
          hash,
          directory: path.join(this.directory, source.directory),
          dockerFile: source.dockerFile ?? 'Dockerfile',
          buildArgs: source.dockerBuildArgs ?? {},
        });
      }
    }
    return [...assets.values()];
  }

  template(stack: string): Template {
    const template = this.templates.get(stack);
    if (!template) throw new Error(`no template for stack ${stack} in ${this.directory}`);
    return template;
  }

  resourcesOfType(
    stack: string,
    type: string,
  ): Array<{ logicalId: string; properties: Record<string, unknown> }> {
    return Object.entries(this.template(stack).Resources)
      .filter(([, resource]) => resource.Type === type)
      .map(([logicalId, resource]) => ({ logicalId, properties: resource.Properties ?? {} }));
  }

  taskDefinitions(stack: string): TaskDefinitionResource[] {
    return this.resourcesOfType(stack, 'AWS::ECS::TaskDefinition').map(({ logicalId, properties }) => ({
      logicalId,
      family: String(properties.Family ?? logicalId),
      properties: properties as TaskDefinitionResource['properties'],
    }));
  }

  /** The asset hash an image reference points at (`...:<hash>` in the ECR URI of the asset). */
  static imageAssetHash(image: unknown): string {
    const text = JSON.stringify(image);
    const match = /:([0-9a-f]{64})"/.exec(text);
    if (!match) throw new Error(`image ${text.slice(0, 120)} is not an image asset of this app`);
    return match[1];
  }

  /** Resolves Ref, Fn::GetAtt, Fn::Join and Fn::Select in `value`. */
  resolve(stack: string, value: unknown, physical: PhysicalResolver): string {
    if (typeof value === 'string') return value;
    if (typeof value === 'number' || typeof value === 'boolean') return String(value);
    const [[fn, arg]] = Object.entries(value as Record<string, unknown>);
    const resource = (logicalId: string) => {
      const found = this.template(stack).Resources[logicalId];
      if (!found) throw new Error(`${stack}: no resource ${logicalId}`);
      return found;
    };
    switch (fn) {
      case 'Ref': {
        const logicalId = String(arg);
        if (logicalId === 'AWS::Region')
          return physical({ stack, logicalId, type: 'AWS::Region', attribute: null });
        if (logicalId === 'AWS::AccountId')
          return physical({ stack, logicalId, type: 'AWS::AccountId', attribute: null });
        if (logicalId === 'AWS::URLSuffix') return 'amazonaws.com';
        return physical({ stack, logicalId, type: resource(logicalId).Type, attribute: null });
      }
      case 'Fn::GetAtt': {
        const [logicalId, attribute] = arg as [string, string];
        return physical({ stack, logicalId, type: resource(logicalId).Type, attribute });
      }
      case 'Fn::Join': {
        const [separator, parts] = arg as [string, unknown[]];
        return parts.map((part) => this.resolve(stack, part, physical)).join(separator);
      }
      case 'Fn::Select': {
        const [index, list] = arg as [number, unknown];
        const items = Array.isArray(list) ? list : this.resolve(stack, list, physical).split(',');
        return this.resolve(stack, items[Number(index)], physical);
      }
      default:
        throw new Error(
          `${stack}: the rehearsal cannot resolve ${fn} (${JSON.stringify(arg).slice(0, 120)})`,
        );
    }
  }
}
