"""Per-call overhead of the resilience stack (limiter -> breaker -> request, inside a retry policy).

Baseline: awaiting the same no-op coroutine directly, measured in the same run. Run:

    /work/venv/bin/python benchmarks/bench_resilience.py [calls]
"""

from __future__ import annotations

import asyncio
import sys
import time

from plex_cognite.resilience import CircuitBreaker, RetryPolicy, TokenBucketRateLimiter, resilient_call


async def request() -> int:
    return 1


async def measure(calls: int) -> None:
    start = time.perf_counter()
    for _ in range(calls):
        await request()
    baseline = time.perf_counter() - start

    limiter = TokenBucketRateLimiter(rate_per_minute=1e12, burst=1e12)  # never waits: measures bookkeeping only
    breaker = CircuitBreaker("bench")
    policy = RetryPolicy(name="bench")
    timings: dict[str, float] = {}
    for label, kwargs in {
        "limiter": {"limiter": limiter},
        "breaker": {"breaker": breaker},
        "policy": {"policy": policy},
        "all three": {"limiter": limiter, "breaker": breaker, "policy": policy},
    }.items():
        start = time.perf_counter()
        for _ in range(calls):
            await resilient_call(request, key="pcn", **kwargs)  # type: ignore[arg-type]
        timings[label] = time.perf_counter() - start

    print(f"calls: {calls}")
    print(f"baseline (bare await): {baseline / calls * 1e6:8.2f} us/call")
    for label, elapsed in timings.items():
        per_call = elapsed / calls * 1e6
        print(f"{label:>21}: {per_call:8.2f} us/call  ({elapsed / baseline:6.1f}x baseline)")
    print("for scale: Plex allows 200 calls/min, i.e. one call per 300,000 us")


if __name__ == "__main__":
    asyncio.run(measure(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000))
