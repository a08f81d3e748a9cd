import * as ecs from 'aws-cdk-lib/aws-ecs';
import type { DeploymentConfig } from '../config';

/** The Fargate runtime platform of a task built for `platform.architecture` (Linux). */
export function runtimePlatformFor(
  architecture: DeploymentConfig['platform']['architecture'],
): ecs.RuntimePlatform {
  return {
    operatingSystemFamily: ecs.OperatingSystemFamily.LINUX,
    cpuArchitecture: architecture === 'arm64' ? ecs.CpuArchitecture.ARM64 : ecs.CpuArchitecture.X86_64,
  };
}

/** The Fargate capacity provider of a service with `platform.capacity`. */
export function capacityProviderFor(
  capacity: DeploymentConfig['platform']['capacity'],
): 'FARGATE_SPOT' | 'FARGATE' {
  return capacity === 'spot' ? 'FARGATE_SPOT' : 'FARGATE';
}
