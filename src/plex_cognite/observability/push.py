"""Push metrics to a Prometheus Pushgateway after a `--once` run, where no scraper would ever see them.

```python
report = await run_extractors(settings, metrics=metrics)
push_metrics(metrics, settings.metrics)          # does nothing unless metrics.pushgateway_url is set
```

The push replaces the group `job=<pushgateway_job>, instance=<pushgateway_instance>` (HTTP PUT), so counters from
the previous run are not added up with this run's: each run's numbers stand alone, and
`last_success_timestamp_seconds` / `last_pass_success` tell alerts how the latest run went.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client import push_to_gateway

from plex_cognite.errors import one_line
from plex_cognite.observability.logs import get_logger, redact_text

if TYPE_CHECKING:
    from plex_cognite.config import MetricsSettings
    from plex_cognite.observability.metrics import ExtractorMetrics

__all__ = ["push_metrics"]

_log = get_logger(__name__)


def push_metrics(metrics: ExtractorMetrics, settings: MetricsSettings, *, timeout_s: float = 10.0) -> bool:
    """Push every metric of `metrics` to `settings.pushgateway_url`, if set.

    A failed push is logged (one line, credentials masked) and reported as False, never raised: the run's outcome
    must not depend on the monitoring path.

    Args:
        metrics: What to push.
        settings: The `metrics` section (`pushgateway_url`, `pushgateway_job`, `pushgateway_instance`).
        timeout_s: Give up on the gateway after this long.

    Returns:
        True when pushed; False when no gateway is configured or the push failed.
    """
    url = settings.pushgateway_url
    if not url:
        return False
    grouping = {"instance": settings.pushgateway_instance} if settings.pushgateway_instance else None
    try:
        push_to_gateway(
            url, job=settings.pushgateway_job, registry=metrics.registry, grouping_key=grouping, timeout=timeout_s
        )
    except Exception as error:  # monitoring must never fail the run; counted in the log
        _log.warning("metrics push failed", gateway=redact_text(url), error=redact_text(one_line(error)))
        return False
    _log.info("metrics pushed", gateway=redact_text(url), job=settings.pushgateway_job)
    return True
