"""Report runs to a CDF extraction pipeline, so CDF can alert on an extractor that fails or goes silent.

```python
reporter = ExtractionPipelineReporter(cdf, "plex-cognite", secrets=[settings.plex.api_key.get_secret_value()])
await reporter.seen()                      # one heartbeat
async with reporter.heartbeats(600):       # a `seen` every 10 minutes while the block runs (continuous mode)
    ...
await reporter.success()                   # after a pass in which every stream succeeded
await reporter.failure(error)              # after a failed pass: one line, credentials masked, <= 1000 chars
```

Each call is one `POST /extpipes/runs`. A report that cannot be delivered (CDF down, pipeline missing, no access)
is logged and counted (`failed_reports`, and `extpipe_reports_total{outcome="error"}` with metrics), never
raised: monitoring must not fail the extraction it monitors.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Literal

from cognite.client import AsyncCogniteClient, CogniteClient
from cognite.client.data_classes import ExtractionPipelineRunWrite

from plex_cognite.cdf.client import async_client_of
from plex_cognite.errors import one_line
from plex_cognite.observability.logs import get_logger, redact_text

if TYPE_CHECKING:
    from plex_cognite.config import ExtractorSettings
    from plex_cognite.observability.metrics import ExtractorMetrics

__all__ = ["MAX_MESSAGE_LENGTH", "ExtractionPipelineReporter", "RunStatus", "run_message"]

#: CDF's limit on a run message.
MAX_MESSAGE_LENGTH = 1000
RunStatus = Literal["success", "failure", "seen"]

_log = get_logger(__name__)


def run_message(reason: BaseException | str, *, secrets: Sequence[str] = (), limit: int = MAX_MESSAGE_LENGTH) -> str:
    """A run message: errors as one line (`Type: first line`), lines joined with ` | `, secrets masked, cut to fit.

    Args:
        reason: An exception or text (several lines become one).
        secrets: Strings never to send (API keys, client secrets); each is replaced by `***`.
        limit: Longest message (CDF allows 1000 characters).
    """
    if isinstance(reason, BaseException):
        text = one_line(reason)
    else:
        text = " | ".join(line.strip() for line in reason.splitlines() if line.strip())
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    text = redact_text(text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class ExtractionPipelineReporter:
    """Sends `success`, `failure` and `seen` runs for one extraction pipeline.

    Args:
        cdf: The CDF client (an `AsyncCogniteClient`, or a `CogniteClient` whose async client is used).
        external_id: The extraction pipeline's external id (it must exist in CDF).
        secrets: Strings to mask in failure messages (the Plex API key, client secrets).
        metrics: Optional `ExtractorMetrics`; each report is counted by status and outcome.

    Attributes:
        reported: Runs delivered.
        failed_reports: Runs that could not be delivered (logged, never raised).
    """

    def __init__(
        self,
        cdf: AsyncCogniteClient | CogniteClient,
        external_id: str,
        *,
        secrets: Sequence[str] = (),
        metrics: ExtractorMetrics | None = None,
    ) -> None:
        if not external_id:
            raise ValueError("external_id must be a non-empty extraction pipeline external id")
        self.client = async_client_of(cdf)
        self.external_id = external_id
        self._secrets = tuple(s for s in secrets if s)
        self._metrics = metrics
        self.reported = 0
        self.failed_reports = 0

    @classmethod
    def from_settings(
        cls,
        settings: ExtractorSettings,
        cdf: AsyncCogniteClient | CogniteClient,
        metrics: ExtractorMetrics | None = None,
    ) -> ExtractionPipelineReporter | None:
        """The reporter for `cdf.extraction_pipeline_external_id`, or None when it is not set.

        The Plex API key, Data Source password, CDF token and client secret are masked in messages.
        """
        xid = settings.cdf.extraction_pipeline_external_id
        if not xid:
            return None
        secrets = [settings.plex.api_key.get_secret_value()]
        for secret in (settings.cdf.token, settings.cdf.client_secret):
            if secret is not None:
                secrets.append(secret.get_secret_value())
        datasource = settings.plex.datasource
        if datasource is not None:
            passwords = [datasource.password, *(account.password for account in datasource.credentials.values())]
            secrets.extend(password.get_secret_value() for password in passwords if password is not None)
        return cls(cdf, xid, secrets=secrets, metrics=metrics)

    async def success(self, message: str | None = None) -> bool:
        """Report a successful pass. Returns whether the report was delivered."""
        return await self._report("success", run_message(message, secrets=self._secrets) if message else None)

    async def failure(self, reason: BaseException | str) -> bool:
        """Report a failed pass with a short reason (one line, secrets masked, at most 1000 characters)."""
        return await self._report("failure", run_message(reason, secrets=self._secrets) or "failed")

    async def seen(self) -> bool:
        """Report a heartbeat: the extractor is alive (CDF alerts when these stop)."""
        return await self._report("seen", None)

    @contextlib.asynccontextmanager
    async def heartbeats(self, interval_s: float) -> AsyncIterator[None]:
        """Send `seen` at once and then every `interval_s` seconds until the block exits.

        Args:
            interval_s: Seconds between heartbeats (`cdf.extraction_pipeline_heartbeat`).
        """
        if interval_s <= 0:
            raise ValueError(f"interval_s must be > 0, got {interval_s}")

        async def beat() -> None:
            while True:
                await self.seen()
                await asyncio.sleep(interval_s)

        task = asyncio.create_task(beat(), name=f"extpipe-heartbeat-{self.external_id}")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _report(self, status: RunStatus, message: str | None) -> bool:
        run = ExtractionPipelineRunWrite(extpipe_external_id=self.external_id, status=status, message=message)
        try:
            await self.client.extraction_pipelines.runs.create(run)
        except Exception as error:  # never fail the extraction over its monitoring; logged and counted
            self.failed_reports += 1
            self._count(status, "error")
            _log.warning(
                "extraction pipeline run not reported",
                pipeline=self.external_id,
                status=status,
                error=run_message(error, secrets=self._secrets, limit=300),
            )
            return False
        self.reported += 1
        self._count(status, "ok")
        _log.debug("extraction pipeline run reported", pipeline=self.external_id, status=status)
        return True

    def _count(self, status: str, outcome: str) -> None:
        if self._metrics is not None:
            self._metrics.record_pipeline_report(status, outcome)
