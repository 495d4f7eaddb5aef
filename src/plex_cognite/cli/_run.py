"""`plex-cognite run`: passes on the interval, with health, metrics, pipeline runs and a graceful stop.

Per pass: the live progress display, the report table (the runner records the pass for `/readyz` and the metrics), a
`success` / `failure` run on the CDF extraction pipeline when one is configured (with `seen` heartbeats while a
pass runs in continuous mode). After `--once`, the metrics are pushed to the Pushgateway when one is configured.

Signals (the CLI is an application, so it may own them; the library never installs handlers): the first SIGTERM
or SIGINT during a pass stops it gracefully (writes in flight are abandoned, what CDF acknowledged is committed,
the partial report is printed with a one-line reason) and exits 143 (SIGTERM) or 130 (SIGINT); a second signal
exits at once. A signal between passes exits 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import threading
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from plex_cognite._report_table import format_report
from plex_cognite.cli._progress import progress_display

if TYPE_CHECKING:
    from cognite.client import AsyncCogniteClient

    from plex_cognite.cdf.pipeline_runs import ExtractionPipelineReporter
    from plex_cognite.config import ExtractorSettings
    from plex_cognite.observability.metrics import ExtractorMetrics

__all__ = ["GracefulStop", "run_passes"]

EXIT_OK = 0
EXIT_FAILURE = 1


class GracefulStop(asyncio.Event):
    """Set by the first SIGTERM/SIGINT; a second one ends the process at once.

    Attributes:
        signum: The signal that set it (None until then).
    """

    def __init__(self) -> None:
        super().__init__()
        self.signum: int | None = None

    @property
    def reason(self) -> str:
        """Why the run stops (the signal's name)."""
        return f"stopped by {signal.Signals(self.signum).name}" if self.signum is not None else "stop requested"

    def on_signal(self, signum: int) -> None:
        """Handle a signal: stop gracefully the first time, at once the second time."""
        if self.is_set():
            print(f"plex-cognite: {signal.Signals(signum).name} again: stopping now", file=sys.stderr, flush=True)
            os._exit(128 + signum)
        self.signum = signum
        print(
            f"plex-cognite: {signal.Signals(signum).name}: stopping after committing what CDF acknowledged "
            "(send it again to stop at once)",
            file=sys.stderr,
            flush=True,
        )
        self.set()

    def install(self) -> None:
        """Handle SIGTERM and SIGINT on the running loop (only possible in the main thread)."""
        if threading.current_thread() is not threading.main_thread():
            return
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.on_signal, signum)


async def run_passes(settings: ExtractorSettings, *, once: bool) -> int:
    """Run one pass (`once`) or passes on `extraction.interval` until a signal; return the exit code."""
    from plex_cognite.cdf.client import build_async_cognite_client
    from plex_cognite.cdf.pipeline_runs import ExtractionPipelineReporter
    from plex_cognite.observability import Readiness, push_metrics
    from plex_cognite.observability.health import start_metrics_server
    from plex_cognite.observability.metrics import ExtractorMetrics

    stop = GracefulStop()
    stop.install()
    # Metrics always exist: /readyz and the Pushgateway need them even when nobody scrapes.
    metrics = ExtractorMetrics(readiness=Readiness.from_settings(settings))
    server = start_metrics_server(settings.metrics, metrics) if settings.metrics.enabled else None
    if server is not None:
        print(f"metrics and health at {server.url}", file=sys.stderr)
    cdf = build_async_cognite_client(settings.cdf)
    reporter = ExtractionPipelineReporter.from_settings(settings, cdf, metrics)
    try:
        while True:
            code = await _one_pass(settings, cdf, metrics, reporter, stop, once=once)
            if code is not None:
                return code
            if once:
                return EXIT_OK
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), settings.extraction.interval.total_seconds())
                return EXIT_OK  # stopped between passes: nothing is in flight
    finally:
        if once:
            push_metrics(metrics, settings.metrics)
        if server is not None:
            server.stop()


async def _one_pass(
    settings: ExtractorSettings,
    cdf: AsyncCogniteClient,
    metrics: ExtractorMetrics,
    reporter: ExtractionPipelineReporter | None,
    stop: GracefulStop,
    *,
    once: bool,
) -> int | None:
    """One pass; the exit code when the process should end (a stop, or a failure of `--once`), else None."""
    from plex_cognite.errors import one_line
    from plex_cognite.runner import run_extractors

    try:
        async with _heartbeats(reporter, settings, enabled=not once):
            with progress_display(sys.stderr) as progress:
                report = await run_extractors(
                    settings, on_progress=progress, metrics=metrics, cognite_client=cdf, stop=stop
                )
    except Exception as error:
        if reporter is not None:
            await reporter.failure(one_line(error))
        raise
    print(format_report(report), flush=True)
    reason = " | ".join(report.errors) or report.stopped
    if reporter is not None:
        await (reporter.success() if report.ok else reporter.failure(reason or "failed"))
    if report.stopped is not None:
        print(
            f"plex-cognite: {report.stopped}: the report above is partial; what CDF acknowledged is committed and "
            "the next run continues from there",
            file=sys.stderr,
        )
        return 128 + (stop.signum or signal.SIGTERM)
    if not report.ok:
        # One line per failed stream; streams skipped because of it are in the table, not repeated here.
        for line in report.errors:
            if ": skipped: " not in line:
                print(f"plex-cognite: run failed: {line}", file=sys.stderr)
        return EXIT_FAILURE if once else None
    return None


@contextlib.asynccontextmanager
async def _heartbeats(
    reporter: ExtractionPipelineReporter | None, settings: ExtractorSettings, *, enabled: bool
) -> AsyncIterator[None]:
    if reporter is None or not enabled:
        yield
        return
    async with reporter.heartbeats(settings.cdf.extraction_pipeline_heartbeat.total_seconds()):
        yield
