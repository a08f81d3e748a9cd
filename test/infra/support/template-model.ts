/* eslint-disable @typescript-eslint/no-explicit-any -- CloudFormation templates are untyped JSON; the readers below check their shape. */
/**
 * A read model over a synthesized CloudFormation template, so the deployability checks can follow
 * references between its resources.
 */

export interface CfnResource {
  Type: string;
  Properties?: Record<string, any>;
  DeletionPolicy?: string;
  UpdateReplacePolicy?: string;
  DependsOn?: string | string[];
}

export interface CfnTemplate {
  Resources: Record<string, CfnResource>;
  Outputs?: Record<string, { Value: unknown; Export?: { Name: unknown } }>;
  Parameters?: Record<string, unknown>;
}

/** A resource with its qualified id (`<stack>/<logicalId>`). */
export interface Located {
  id: string;
  stack: string;
  logicalId: string;
  resource: CfnResource;
  props: Record<string, any>;
}

export class TemplateModel {
  private readonly byId = new Map<string, Located>();

  constructor(readonly templates: Record<string, CfnTemplate>) {
    for (const [stack, template] of Object.entries(templates)) {
      for (const [logicalId, resource] of Object.entries(template.Resources ?? {})) {
        this.byId.set(`${stack}/${logicalId}`, {
          id: `${stack}/${logicalId}`,
          stack,
          logicalId,
          resource,
          props: resource.Properties ?? {},
        });
      }
    }
  }

  get all(): Located[] {
    return [...this.byId.values()];
  }

  ofType(type: string): Located[] {
    return this.all.filter((r) => r.resource.Type === type);
  }

  get(id: string): Located | undefined {
    return this.byId.get(id);
  }

  /** The resource a value points at (Ref or Fn::GetAtt), in the context of `stack`. */
  target(value: unknown, stack: string): Located | undefined {
    if (!value || typeof value !== 'object') return undefined;
    const v = value as Record<string, any>;
    if (typeof v.Ref === 'string') return this.byId.get(`${stack}/${v.Ref}`);
    if (Array.isArray(v['Fn::GetAtt'])) return this.byId.get(`${stack}/${v['Fn::GetAtt'][0]}`);
    return undefined;
  }

  /** The resources a list value points at: an array of references or a Fn::Join of them. */
  targets(value: unknown, stack: string): Located[] {
    if (Array.isArray(value)) return value.flatMap((v) => this.targets(v, stack));
    if (value && typeof value === 'object' && Array.isArray((value as any)['Fn::Join'])) {
      return this.targets((value as any)['Fn::Join'][1], stack);
    }
    const one = this.target(value, stack);
    return one ? [one] : [];
  }

  /** Whether `value` (in `stack`) points at `located`. */
  pointsAt(value: unknown, stack: string, located: Located): boolean {
    return this.targets(value, stack).some((t) => t.id === located.id);
  }

  /** Container definitions of every task definition, with the task definition. */
  containers(): Array<{
    taskDefinition: Located;
    container: Record<string, any>;
    env: Record<string, unknown>;
  }> {
    return this.ofType('AWS::ECS::TaskDefinition').flatMap((taskDefinition) =>
      ((taskDefinition.props.ContainerDefinitions ?? []) as Array<Record<string, any>>).map((container) => ({
        taskDefinition,
        container,
        env: Object.fromEntries(
          ((container.Environment ?? []) as Array<{ Name: string; Value: unknown }>).map((e) => [
            e.Name,
            e.Value,
          ]),
        ),
      })),
    );
  }
}
