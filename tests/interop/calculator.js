// The Prometheus OpenTelemetry guide's calculator metrics, exported by the
// real OpenTelemetry JS SDK to otlp-broker.  Exits non-zero if the SDK
// reports an export error.
//
//   node calculator.js proto|json|grpc [gzip]
//
// Endpoint: OB_METRICS_URL (full URL, e.g. http://127.0.0.1:4318/api/v1/otlp/v1/metrics)
// or, when unset, the SDK's own OTEL_EXPORTER_OTLP_ENDPOINT handling.  grpc is
// OTLP/gRPC (@opentelemetry/exporter-metrics-otlp-grpc on @grpc/grpc-js);
// OTEL_EXPORTER_OTLP_ENDPOINT=http://host:port makes it plaintext h2c.  The
// SDK's own OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE=delta makes it
// export deltas.  OB_BETWEEN_EXPORTS=FILE: after the first export print
// "first export done" and wait until FILE exists (the test restarts the
// broker meanwhile).  OB_EXPONENTIAL=1: http.server.duration is an
// exponential histogram (the one-line view every SDK has).
'use strict';

const fs = require('fs');

const { metrics } = require('@opentelemetry/api');
const { AggregationType, MeterProvider, PeriodicExportingMetricReader } = require('@opentelemetry/sdk-metrics');
const { defaultResource, resourceFromAttributes } = require('@opentelemetry/resources');

const protocol = process.argv[2] || 'proto';
const compression = process.argv[3] === 'gzip' ? 'gzip' : 'none';
const exporters = {
  json: '@opentelemetry/exporter-metrics-otlp-http',
  proto: '@opentelemetry/exporter-metrics-otlp-proto',
  grpc: '@opentelemetry/exporter-metrics-otlp-grpc',
};
if (!exporters[protocol]) {
  console.error(`unknown protocol ${protocol}: proto, json or grpc`);
  process.exit(2);
}
const { OTLPMetricExporter } = require(exporters[protocol]);

const options = { compression };
if (process.env.OB_METRICS_URL) options.url = process.env.OB_METRICS_URL;
const exporter = new OTLPMetricExporter(options);

const reader = new PeriodicExportingMetricReader({
  exporter,
  exportIntervalMillis: 3600000, // exports happen only on forceFlush below
});
const provider = new MeterProvider({
  // The default resource adds telemetry.sdk.*, which become target_info labels.
  resource: defaultResource().merge(resourceFromAttributes({ 'service.name': 'calculator' })),
  readers: [reader],
  views: process.env.OB_EXPONENTIAL
    ? [{ instrumentName: 'http.server.duration',
         aggregation: { type: AggregationType.EXPONENTIAL_HISTOGRAM } }]
    : [],
});
metrics.setGlobalMeterProvider(provider);

const meter = metrics.getMeter('calculator', '1.0.0');
const operations = meter.createCounter('calc_operation', {
  description: 'Number of calculator operations',
});
const duration = meter.createHistogram('http.server.duration', {
  description: 'Duration of HTTP requests',
  unit: 'ms',
});
const active = meter.createUpDownCounter('http.server.active_requests', {
  description: 'Number of active HTTP requests',
});

function request(op, ms) {
  active.add(1, { 'http.method': 'GET' });
  operations.add(1, { operation: op });
  duration.record(ms, { 'http.method': 'GET', 'http.route': `/${op}` });
  active.add(-1, { 'http.method': 'GET' });
}

async function main() {
  // First export: 2 adds, 1 sub.
  request('add', 12);
  request('add', 40);
  request('sub', 7);
  await reader.forceFlush();
  if (process.env.OB_BETWEEN_EXPORTS) {
    console.log('first export done');
    while (!fs.existsSync(process.env.OB_BETWEEN_EXPORTS))
      await new Promise((resolve) => setTimeout(resolve, 50));
  }
  // Second export (on the same keep-alive connection unless the broker
  // restarted): 1 more add.
  request('add', 260);
  await reader.forceFlush();
  await provider.shutdown();
  console.log('exported');
}

main().catch((err) => {
  console.error('export failed:', err && err.message ? err.message : err);
  process.exit(1);
});
