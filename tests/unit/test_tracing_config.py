"""The OTLP exporter is configured by the standard environment, and only by it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.unit.deployment_files import ROOT

PROBE = """
import json
from opentelemetry import trace
from shared.tracing import configure_tracing
configure_tracing("probe")
provider = trace.get_tracer_provider()
processors = provider._active_span_processor._span_processors
# Exporting processors (the one that hands spans to tests exports nothing itself).
exporting = [getattr(p, "_batch_processor", p) for p in processors]
exporters = [p._exporter for p in exporting if hasattr(p, "_exporter")]
print(json.dumps({
    "service": provider.resource.attributes["service.name"],
    "exporters": [type(e).__name__ for e in exporters],
    "endpoints": [getattr(e, "_endpoint", "") for e in exporters],
}))
"""


def configured(**environment: str) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env.update(environment)
    output = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    result: dict[str, object] = json.loads(output)
    return result


def test_nothing_is_exported_without_an_otlp_endpoint() -> None:
    assert configured() == {"service": "fiscus-probe", "exporters": [], "endpoints": []}


def test_an_otlp_endpoint_in_the_environment_exports_spans_there() -> None:
    result = configured(OTEL_EXPORTER_OTLP_ENDPOINT="http://collector.internal:4318")
    assert result["exporters"] == ["OTLPSpanExporter"]
    assert result["endpoints"] == ["http://collector.internal:4318/v1/traces"]


def test_the_standard_variable_renames_the_process() -> None:
    assert configured(OTEL_SERVICE_NAME="renamed")["service"] == "renamed"
