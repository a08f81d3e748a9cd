import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import {
  CreateSecurityGroupCommand,
  CreateSubnetCommand,
  CreateVpcCommand,
  EC2Client,
  ModifyVpcAttributeCommand,
} from '@aws-sdk/client-ec2';
import { CreateClusterCommand, ECSClient, RegisterTaskDefinitionCommand } from '@aws-sdk/client-ecs';

export interface MotoServer {
  endpoint: string;
  /** Client config pointing an AWS SDK v3 client at this server. */
  clientConfig: {
    endpoint: string;
    region: string;
    credentials: { accessKeyId: string; secretAccessKey: string };
  };
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Starts `moto_server` on a free loopback port and waits until it answers. */
export async function startMotoServer(): Promise<MotoServer> {
  const port = await freePort();
  const child: ChildProcess = spawn('moto_server', ['-H', '127.0.0.1', '-p', String(port)], {
    stdio: process.env.MOTO_DEBUG ? 'inherit' : 'ignore',
  });
  const endpoint = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`moto_server exited with code ${child.exitCode}`);
    try {
      const res = await fetch(`${endpoint}/moto-api/`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill();
      throw new Error('moto_server did not start within 30 s');
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  // Keep ECS tasks RUNNING across describes (moto's default advances them on every describe).
  await fetch(`${endpoint}/moto-api/state-manager/set-transition`, {
    method: 'POST',
    body: JSON.stringify({
      model_name: 'ecs::task',
      transition: { progression: 'manual', times: 1_000_000 },
    }),
  });
  return {
    endpoint,
    clientConfig: {
      endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    },
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

export interface MotoSandboxCluster {
  clusterArn: string;
  subnetId: string;
  securityGroupId: string;
  /** The harness's task-definition family, registered in the cluster's account. */
  family: string;
}

/**
 * What the deployment gives sandboxes, in moto: a VPC with DNS hostnames (moto needs them to
 * build a task's ENI), one private subnet, a security group, a cluster, and the opencode task
 * definition (harness with awslogs settings, and the vault).
 */
export async function createMotoSandboxCluster(
  moto: MotoServer,
  clusterName: string,
): Promise<MotoSandboxCluster> {
  const ec2 = new EC2Client(moto.clientConfig);
  const ecs = new ECSClient(moto.clientConfig);
  const vpcId = (await ec2.send(new CreateVpcCommand({ CidrBlock: '10.0.0.0/16' }))).Vpc!.VpcId!;
  await ec2.send(new ModifyVpcAttributeCommand({ VpcId: vpcId, EnableDnsHostnames: { Value: true } }));
  const subnet = await ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: '10.0.0.0/18' }));
  const sg = await ec2.send(
    new CreateSecurityGroupCommand({ VpcId: vpcId, GroupName: 'sandbox', Description: 'sandbox' }),
  );
  const clusterArn = (await ecs.send(new CreateClusterCommand({ clusterName }))).cluster!.clusterArn!;
  const family = 'lap-sandbox-opencode';
  await ecs.send(
    new RegisterTaskDefinitionCommand({
      family,
      networkMode: 'awsvpc',
      requiresCompatibilities: ['FARGATE'],
      cpu: '1024',
      memory: '2048',
      containerDefinitions: [
        {
          name: 'harness',
          image: 'public.ecr.aws/lap/harness-opencode:1',
          essential: true,
          cpu: 768,
          memory: 1536,
          logConfiguration: {
            logDriver: 'awslogs',
            options: { 'awslogs-group': '/lap/sandboxes', 'awslogs-stream-prefix': 'sandbox' },
          },
        },
        { name: 'vault', image: 'public.ecr.aws/lap/vault:1', essential: true, cpu: 256, memory: 512 },
      ],
    }),
  );
  return { clusterArn, subnetId: subnet.Subnet!.SubnetId!, securityGroupId: sg.GroupId!, family };
}
