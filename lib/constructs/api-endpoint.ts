import { ArnFormat, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as route53Targets from 'aws-cdk-lib/aws-route53-targets';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';
import type { DeploymentConfig } from '../config';
import { PORTS } from './security-perimeter';
import { SUBNETS } from './vpc-network';

export interface ApiEndpointProps {
  envName: string;
  production: boolean;
  edge: DeploymentConfig['edge'];
  vpc: ec2.IVpc;
  securityGroup: ec2.ISecurityGroup;
  /** Of the WAF log group. */
  logRetentionDays: number;
  removalPolicy: RemovalPolicy;
}

/**
 * The API's front door: an ALB (internet-facing or internal) with HTTPS (certificate by ARN, or
 * created for a domain in a Route 53 zone), an idle timeout long enough for synchronous `send`
 * and SSE streams, access logs, and an optional regional WAF. Plain HTTP only when the config
 * says so (the config layer warns).
 */
export class ApiEndpoint extends Construct {
  readonly loadBalancer: elbv2.ApplicationLoadBalancer;
  /** The URL clients use (BASE_URL). */
  readonly url: string;
  private readonly listener: elbv2.ApplicationListener;

  constructor(scope: Construct, id: string, props: ApiEndpointProps) {
    super(scope, id);
    const { edge } = props;

    this.loadBalancer = new elbv2.ApplicationLoadBalancer(this, 'LoadBalancer', {
      vpc: props.vpc,
      internetFacing: edge.internetFacing,
      vpcSubnets: { subnetGroupName: edge.internetFacing ? SUBNETS.public : SUBNETS.private },
      securityGroup: props.securityGroup,
      idleTimeout: Duration.seconds(edge.idleTimeoutSeconds),
      dropInvalidHeaderFields: true,
      deletionProtection: props.production,
    });

    const accessLogs = new s3.Bucket(this, 'AccessLogs', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ expiration: Duration.days(props.production ? 365 : 30) }],
      // Logs outlive the stack: a non-empty bucket cannot be deleted by CloudFormation anyway.
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(accessLogs).acknowledge({
      id: 'AwsSolutions-S1',
      reason:
        'This bucket only receives ALB access logs; logging access to the log bucket itself would recurse.',
    });
    this.loadBalancer.logAccessLogs(accessLogs, `lap-${props.envName}`);

    let certificate: elbv2.IListenerCertificate | undefined;
    let zone: route53.IHostedZone | undefined;
    if (edge.hostedZone) {
      zone = route53.HostedZone.fromHostedZoneAttributes(this, 'Zone', edge.hostedZone);
    }
    if (edge.certificateArn) {
      certificate = elbv2.ListenerCertificate.fromArn(edge.certificateArn);
    } else if (zone && edge.domainName) {
      certificate = new acm.Certificate(this, 'Certificate', {
        domainName: edge.domainName,
        validation: acm.CertificateValidation.fromDns(zone),
      });
    }

    this.listener = certificate
      ? this.loadBalancer.addListener('Https', {
          port: 443,
          protocol: elbv2.ApplicationProtocol.HTTPS,
          certificates: [certificate],
          sslPolicy: elbv2.SslPolicy.RECOMMENDED_TLS,
          open: false,
        })
      : this.loadBalancer.addListener('Http', {
          port: 80,
          protocol: elbv2.ApplicationProtocol.HTTP,
          open: false,
        });

    if (zone && edge.domainName) {
      new route53.ARecord(this, 'Alias', {
        zone,
        recordName: edge.domainName,
        target: route53.RecordTarget.fromAlias(new route53Targets.LoadBalancerTarget(this.loadBalancer)),
      });
    }
    const host = edge.domainName ?? this.loadBalancer.loadBalancerDnsName;
    this.url = certificate ? `https://${host}` : `http://${host}`;

    if (edge.waf) {
      this.addWaf(props);
    } else {
      Validations.of(this.loadBalancer).acknowledge({
        id: 'AwsSolutions-WAF2',
        reason:
          'WAF is off by configuration (edge.waf false, the development default); production turns it on.',
      });
    }
  }

  private addWaf(props: ApiEndpointProps): void {
    const { envName } = props;
    const rateLimit = props.edge.wafRateLimitPer5Min;
    const managed = (name: string, priority: number, excludedRules: string[] = []) => ({
      name,
      priority,
      overrideAction: { none: {} },
      statement: {
        managedRuleGroupStatement: {
          vendorName: 'AWS',
          name,
          // Agent definitions and session messages are legitimately large bodies.
          ruleActionOverrides: excludedRules.map((rule) => ({ name: rule, actionToUse: { count: {} } })),
        },
      },
      visibilityConfig: { cloudWatchMetricsEnabled: true, metricName: name, sampledRequestsEnabled: true },
    });
    const acl = new wafv2.CfnWebACL(this, 'WebAcl', {
      scope: 'REGIONAL',
      defaultAction: { allow: {} },
      visibilityConfig: {
        cloudWatchMetricsEnabled: true,
        metricName: `lap-${envName}-api`,
        sampledRequestsEnabled: true,
      },
      rules: [
        {
          name: 'rate-limit-per-ip',
          priority: 0,
          action: { block: {} },
          statement: { rateBasedStatement: { limit: rateLimit, aggregateKeyType: 'IP' } },
          visibilityConfig: {
            cloudWatchMetricsEnabled: true,
            metricName: 'rate-limit-per-ip',
            sampledRequestsEnabled: true,
          },
        },
        managed('AWSManagedRulesCommonRuleSet', 1, ['SizeRestrictions_BODY']),
        managed('AWSManagedRulesKnownBadInputsRuleSet', 2),
        managed('AWSManagedRulesAmazonIpReputationList', 3),
      ],
    });
    new wafv2.CfnWebACLAssociation(this, 'WebAclAssociation', {
      resourceArn: this.loadBalancer.loadBalancerArn,
      webAclArn: acl.attrArn,
    });
    if (props.edge.wafLogging) {
      // WAF delivers only to log groups named aws-waf-logs-*; kept on stack deletion in
      // production, deleted when a failed first create rolls back (RETAIN_ON_UPDATE_OR_DELETE).
      const logGroup = new logs.LogGroup(this, 'WafLogs', {
        logGroupName: `aws-waf-logs-lap-${envName}`,
        retention: props.logRetentionDays as logs.RetentionDays,
        removalPolicy: props.removalPolicy,
      });
      new wafv2.CfnLoggingConfiguration(this, 'WafLogging', {
        resourceArn: acl.attrArn,
        // The log group's ARN without the ":*" that logGroupArn ends with (WAF refuses it).
        logDestinationConfigs: [
          Stack.of(this).formatArn({
            service: 'logs',
            resource: 'log-group',
            resourceName: logGroup.logGroupName,
            arnFormat: ArnFormat.COLON_RESOURCE_NAME,
          }),
        ],
        // Every API request carries MASTER_KEY as a bearer token: never into the logs.
        redactedFields: [{ singleHeader: { Name: 'authorization' } }],
      });
    }
  }

  /** Routes every request to the web service (health-checked on /healthz). */
  serve(webService: ecs.FargateService): elbv2.ApplicationTargetGroup {
    return this.listener.addTargets('Web', {
      port: PORTS.platformHttp,
      protocol: elbv2.ApplicationProtocol.HTTP,
      targets: [
        webService.loadBalancerTarget({ containerName: 'platform', containerPort: PORTS.platformHttp }),
      ],
      healthCheck: {
        path: '/healthz',
        healthyHttpCodes: '200',
        interval: Duration.seconds(15),
        timeout: Duration.seconds(5),
        healthyThresholdCount: 2,
        unhealthyThresholdCount: 3,
      },
      // Open SSE streams are cut after this on deploys; clients reconnect with Last-Event-ID.
      deregistrationDelay: Duration.seconds(60),
    });
  }
}
