import crypto from 'node:crypto';
import {
  ClientException,
  DescribeTaskDefinitionCommand,
  RegisterTaskDefinitionCommand,
  type ECSClient,
  type TaskDefinition,
} from '@aws-sdk/client-ecs';
import { SANDBOX_CONTAINERS } from '@lap/sandbox-protocol';
import { withThrottlingRetry, type RetryPolicy } from './throttling-retry';

/**
 * Task definitions for agents that pin their own `harness_image`. Each pinned image
 * gets its own family derived from the template family and a hash of the image
 * (`<template>-pin-<hash>`), never a new revision of the template family: RunTask by
 * family takes the latest revision, so a pinned revision there would leak into every
 * other agent. The derived name also makes the lookup work across processes; the
 * in-memory map only saves the describe call.
 */
export class PinnedTaskDefinitions {
  private readonly cache = new Map<string, Promise<string>>();

  constructor(
    private readonly ecs: ECSClient,
    private readonly retry: RetryPolicy,
    private readonly roles: { executionRoleArn?: string; taskRoleArn?: string },
    private readonly environment: string,
  ) {}

  /** The ARN of a task definition like `template` whose harness container runs `image`. */
  resolve(template: string, image: string): Promise<string> {
    const key = `${template}\n${image}`;
    let pending = this.cache.get(key);
    if (!pending) {
      pending = this.findOrRegister(template, image);
      // A failed lookup must not poison the cache: the next launch tries again.
      pending.catch(() => this.cache.delete(key));
      this.cache.set(key, pending);
    }
    return pending;
  }

  private async findOrRegister(template: string, image: string): Promise<string> {
    const base = await this.describe(template);
    if (!base?.family) throw new Error(`sandbox task definition ${template} was not found`);
    const family = `${base.family}-pin-${crypto.createHash('sha256').update(image).digest('hex').slice(0, 16)}`;
    const existing = await this.describe(family);
    const existingImage = existing?.containerDefinitions?.find(
      (c) => c.name === SANDBOX_CONTAINERS.harness,
    )?.image;
    if (existing?.taskDefinitionArn && existing.status === 'ACTIVE' && existingImage === image) {
      return existing.taskDefinitionArn;
    }
    const containerDefinitions = (base.containerDefinitions ?? []).map((c) =>
      c.name === SANDBOX_CONTAINERS.harness ? { ...c, image } : c,
    );
    if (!containerDefinitions.some((c) => c.name === SANDBOX_CONTAINERS.harness)) {
      throw new Error(
        `sandbox task definition ${template} has no container named "${SANDBOX_CONTAINERS.harness}"`,
      );
    }
    const registered = await withThrottlingRetry(
      () =>
        this.ecs.send(
          new RegisterTaskDefinitionCommand({
            family,
            containerDefinitions,
            cpu: base.cpu,
            memory: base.memory,
            networkMode: base.networkMode,
            requiresCompatibilities: base.requiresCompatibilities,
            volumes: base.volumes,
            runtimePlatform: base.runtimePlatform,
            ephemeralStorage: base.ephemeralStorage,
            executionRoleArn: this.roles.executionRoleArn ?? base.executionRoleArn,
            taskRoleArn: this.roles.taskRoleArn ?? base.taskRoleArn,
            tags: [
              { key: 'lap:environment', value: this.environment },
              { key: 'lap:template', value: base.family },
            ],
          }),
        ),
      this.retry,
    );
    const arn = registered.taskDefinition?.taskDefinitionArn;
    if (!arn) throw new Error(`registering a task definition for image ${image} returned no ARN`);
    return arn;
  }

  private async describe(taskDefinition: string): Promise<TaskDefinition | null> {
    try {
      const out = await withThrottlingRetry(
        () => this.ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition })),
        this.retry,
      );
      return out.taskDefinition ?? null;
    } catch (error) {
      if (
        error instanceof ClientException ||
        /unable to describe task definition|not found|does not exist/i.test(String((error as Error).message))
      ) {
        return null;
      }
      throw error;
    }
  }
}
