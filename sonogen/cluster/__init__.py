"""Running past one machine on Ray (the optional ``ray`` extra: ``pip install "sonogen[ray]"``).

``sonogen serve --ray`` deploys the server as Ray Serve replicas (:mod:`sonogen.cluster.serve`)
and ``sonogen build-dataset --ray`` converts on Ray Data (:mod:`sonogen.cluster.data`). Ray is
imported only here and only when asked for, so the single-machine install never needs it.
"""

from __future__ import annotations

from typing import Any

from sonogen.errors import SonogenError

MISSING = 'Ray is not installed: --ray needs the ray extra (pip install "sonogen[ray]")'


def require_ray() -> Any:
    """Import and return ``ray``; a one-line :class:`SonogenError` when the extra is missing."""
    try:
        import ray
    except ImportError as exc:
        raise SonogenError(MISSING) from exc
    return ray


def connect(address: str | None, *, num_cpus: int | None = None) -> Any:
    """Join the Ray cluster at ``address`` (``auto``, ``ray://host:10001``, ``host:6379``) or
    start a local one (``address`` None; ``num_cpus`` caps it). Returns the ``ray`` module."""
    ray = require_ray()
    if ray.is_initialized():
        return ray
    kwargs: dict[str, Any] = {"log_to_driver": False, "ignore_reinit_error": True}
    if address:
        kwargs["address"] = address
    else:
        kwargs["include_dashboard"] = False
        if num_cpus is not None:
            kwargs["num_cpus"] = num_cpus
    try:
        ray.init(**kwargs)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = address or "a local Ray instance"
        raise SonogenError(f"could not connect to {where}: {' '.join(str(exc).split())[:300]}") from exc
    return ray
