//! Traces through OpenTelemetry, only when a collector is configured: every `tracing` span (each
//! request's, see `request_log`) is batched and posted as OTLP/HTTP protobuf by a background
//! thread, so a slow or absent collector never delays a request; a full batch queue drops spans.

use anyhow::Context;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use tracing_subscriber::registry::LookupSpan;

use super::TraceArgs;

/// Where traces go: the traces endpoint as given, or the base endpoint's `/v1/traces`.
fn endpoint(args: &TraceArgs) -> Option<String> {
    args.otel_exporter_otlp_traces_endpoint.clone().or_else(|| {
        args.otel_exporter_otlp_endpoint
            .as_deref()
            .map(|base| format!("{}/v1/traces", base.trim_end_matches('/')))
    })
}

/// The exporting provider, or `None` when no endpoint is configured.
pub fn provider(args: &TraceArgs) -> anyhow::Result<Option<SdkTracerProvider>> {
    let Some(endpoint) = endpoint(args) else {
        return Ok(None);
    };
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(endpoint)
        .build()
        .context("cannot set up the OTLP trace exporter (OTEL_EXPORTER_OTLP_ENDPOINT)")?;
    let resource = Resource::builder()
        .with_service_name(args.otel_service_name.clone())
        .build();
    Ok(Some(
        SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource)
            .build(),
    ))
}

/// The layer that turns `tracing` spans into OpenTelemetry spans of `provider`.
pub fn layer<S>(provider: &SdkTracerProvider) -> impl tracing_subscriber::Layer<S>
where
    S: tracing::Subscriber + for<'span> LookupSpan<'span>,
{
    tracing_opentelemetry::layer().with_tracer(provider.tracer("orgauth"))
}
