/**
 * CloudWatch metrics as Embedded Metric Format log lines: the Lambda's log stream
 * is turned into metrics by CloudWatch, no SDK call or permission needed.
 */
export function emfLine(
  namespace: string,
  dimensions: Record<string, string>,
  values: Record<string, number>,
  unit: 'Count' | 'Milliseconds' = 'Count',
): string {
  return JSON.stringify({
    _aws: {
      Timestamp: Date.now(),
      CloudWatchMetrics: [
        {
          Namespace: namespace,
          Dimensions: [Object.keys(dimensions)],
          Metrics: Object.keys(values).map((Name) => ({
            Name,
            Unit: /Ms$/.test(Name) ? 'Milliseconds' : unit,
          })),
        },
      ],
    },
    ...dimensions,
    ...values,
  });
}

/** Writes the metrics line to stdout (Lambda's log stream). */
export function emitMetrics(
  namespace: string,
  dimensions: Record<string, string>,
  values: Record<string, number>,
): void {
  process.stdout.write(`${emfLine(namespace, dimensions, values)}\n`);
}
