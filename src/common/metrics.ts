import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** What the subscriptions of this process hold, read when /metrics is scraped. */
export interface SubscriptionGauges {
  readonly connections: number;
  readonly partitionStreams: number;
  readonly cachedBytes: number;
  readonly bufferedBytes: number;
  readonly eventStreams: number;
  readonly eventStreamBytes: number;
  readonly consumerInstances: number;
  readonly consumerInstanceBytes: number;
  readonly topics: ReadonlyArray<{ readonly topic: string; readonly ephemeral: number; readonly durable: number; readonly maxLag: number }>;
}

/**
 * Prometheus metrics for one gateway instance. Each app gets its own
 * registry, so tests can build several apps in one process.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly httpRequestDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration in seconds, labelled by route pattern (not raw path), method and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly producedRecords = new Counter({
    name: 'gateway_produced_records_total',
    help: 'Records acknowledged by Kafka, by topic',
    labelNames: ['topic'] as const,
    registers: [this.registry],
  });
  readonly producedBytes = new Counter({
    name: 'gateway_produced_bytes_total',
    help: 'Key and value bytes of records acknowledged by Kafka, by topic',
    labelNames: ['topic'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  /**
   * Subscriptions without a group have no consumer group an operator could
   * look up on the broker: these gauges say what every subscription of this
   * process reads and how far behind the end of the log the slowest one is.
   */
  observeSubscriptions(read: () => SubscriptionGauges): void {
    const gauge = (name: string, help: string, labelNames: readonly string[], collect: (g: Gauge<string>, now: SubscriptionGauges) => void) =>
      new Gauge({
        name,
        help,
        labelNames,
        registers: [this.registry],
        collect() {
          this.reset();
          collect(this, read());
        },
      });
    gauge('gateway_websocket_connections', 'Open WebSocket connections', [], (g, now) => g.set(now.connections));
    gauge('gateway_subscriptions', 'Open subscriptions by topic and kind (ephemeral: no group; durable: a consumer group member)', ['topic', 'kind'], (g, now) => {
      for (const { topic, ephemeral, durable } of now.topics) {
        g.set({ topic, kind: 'ephemeral' }, ephemeral);
        g.set({ topic, kind: 'durable' }, durable);
      }
    });
    gauge('gateway_subscription_max_lag_records', 'Records between the end of the log and the furthest-behind subscription reading the topic', ['topic'], (g, now) => {
      for (const { topic, maxLag } of now.topics) g.set({ topic }, maxLag);
    });
    gauge('gateway_partition_streams', 'Partitions fetched for subscriptions, each once per process', [], (g, now) => g.set(now.partitionStreams));
    gauge('gateway_partition_cache_bytes', 'Record bytes held by partition streams for subscriptions behind the newest record', [], (g, now) => g.set(now.cachedBytes));
    gauge('gateway_websocket_unsent_bytes', 'Bytes queued for or unsent on WebSocket connections', [], (g, now) => g.set(now.bufferedBytes));
    gauge('gateway_event_streams', 'Open Server-Sent Event streams', [], (g, now) => g.set(now.eventStreams));
    gauge('gateway_event_stream_unsent_bytes', 'Bytes queued for or unsent on event streams', [], (g, now) => g.set(now.eventStreamBytes));
    gauge('gateway_consumer_instances', 'Confluent v2 consumer instances held by this process', [], (g, now) => g.set(now.consumerInstances));
    gauge('gateway_consumer_instance_buffered_bytes', 'Record bytes v2 consumer instances fetched ahead of their reads and hold until read', [], (g, now) => g.set(now.consumerInstanceBytes));
  }
}
