"""sonogen's HTTP server: the Riffusion-compatible API, the /v1 API and the web app.

Start it with ``sonogen serve``; build it in code with :func:`create_app`.
"""

from sonogen.server.app import create_app
from sonogen.server.deps import ServerConfig, current_engine, get_engine
from sonogen.server.engine import Engine, Job, QueueFull

__all__ = ["Engine", "Job", "QueueFull", "ServerConfig", "create_app", "current_engine", "get_engine"]
