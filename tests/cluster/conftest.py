"""A local Ray instance (127.0.0.1, 2 CPUs) for the Ray tests; they skip only without the ray extra."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

try:
    import ray  # noqa: F401

    HAVE_RAY = True
except ImportError:
    HAVE_RAY = False

NO_RAY = 'the ray extra is not installed (pip install "sonogen[ray]"); scripts/install.sh and CI install it'


def require_ray() -> None:
    if not HAVE_RAY:
        if os.environ.get("SONOGEN_REQUIRE_ALL") == "1":
            pytest.fail(NO_RAY + " (SONOGEN_REQUIRE_ALL=1)")
        pytest.skip(NO_RAY)


@pytest.fixture(scope="session")
def local_ray() -> Iterator[Any]:
    """``ray.init`` on this machine only (no dashboard), shut down at the end of the session."""
    require_ray()
    import ray

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True,
             _node_ip_address="127.0.0.1")
    try:
        yield ray
    finally:
        try:
            from ray import serve

            serve.shutdown()
        finally:
            ray.shutdown()
