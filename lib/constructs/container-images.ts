import fs from 'node:fs';
import path from 'node:path';
import * as ecrAssets from 'aws-cdk-lib/aws-ecr-assets';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import { Construct } from 'constructs';
import type { DeploymentConfig, HarnessName } from '../config';
import { REPO_ROOT } from './function-bundling';

export interface ContainerImagesProps {
  images: DeploymentConfig['images'];
  architecture: DeploymentConfig['platform']['architecture'];
}

/** What never belongs in an image build context (the context is the repository root: workspaces). */
const CONTEXT_EXCLUDES = [
  '**/node_modules',
  '.git',
  'cdk.out',
  'cdk.out.*',
  'coverage',
  '.lap',
  'test',
  'docs',
  'tmp',
  '.github',
  '**/*.tsbuildinfo',
  // The vault relay binary built for local mode and tests; each image builds its own.
  'sandbox/vault/relay/bin',
];

/**
 * The images of the deployment: built from the repository's Dockerfiles as CDK assets (for the
 * configured CPU architecture), or prebuilt URIs from config (private ECR mirror, closed
 * networks). One asset per image, shared by every task definition that uses it.
 */
export class ContainerImages extends Construct {
  private readonly assets = new Map<string, ecs.ContainerImage>();

  constructor(
    scope: Construct,
    id: string,
    private readonly props: ContainerImagesProps,
  ) {
    super(scope, id);
  }

  get platform(): ecs.ContainerImage {
    return this.image('Platform', this.props.images.platform, 'platform/Dockerfile', {}, 'images.platform');
  }

  get vault(): ecs.ContainerImage {
    return this.image('Vault', this.props.images.vault, 'sandbox/vault/Dockerfile', {}, 'images.vault');
  }

  /** The egress gateway of `sandbox.egress` "enforced". */
  get egressGateway(): ecs.ContainerImage {
    return this.image(
      'EgressGateway',
      this.props.images.egressGateway,
      'sandbox/egress-gateway/Dockerfile',
      {},
      'images.egressGateway',
    );
  }

  /** One harness image per harness: the Dockerfile takes the harness as build argument HARNESS. */
  harness(harness: HarnessName): ecs.ContainerImage {
    const id = `Harness-${harness}`;
    return this.image(
      id,
      this.props.images.harness?.[harness],
      'sandbox/harness/Dockerfile',
      { HARNESS: harness },
      `images.harness.${harness}`,
    );
  }

  private image(
    id: string,
    uri: string | undefined,
    dockerfile: string,
    buildArgs: Record<string, string>,
    configField: string,
  ): ecs.ContainerImage {
    if (uri) return ecs.ContainerImage.fromRegistry(uri);
    const cached = this.assets.get(id);
    if (cached) return cached;
    if (!fs.existsSync(path.join(REPO_ROOT, dockerfile))) {
      throw new Error(
        `${dockerfile} does not exist: build it into the repository, or set ${configField} in the config to a prebuilt image URI`,
      );
    }
    const asset = new ecrAssets.DockerImageAsset(this, id, {
      directory: REPO_ROOT,
      file: dockerfile,
      buildArgs,
      platform:
        this.props.architecture === 'arm64' ? ecrAssets.Platform.LINUX_ARM64 : ecrAssets.Platform.LINUX_AMD64,
      exclude: CONTEXT_EXCLUDES,
    });
    const image = ecs.ContainerImage.fromDockerImageAsset(asset);
    this.assets.set(id, image);
    return image;
  }
}
