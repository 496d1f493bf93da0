"""User-facing errors.

Anything raised as :class:`SonogenError` is a problem with the user's input or
environment; the CLI prints its message on one line and exits with code 2, and the
server answers it with a 4xx JSON body.
"""


class SonogenError(Exception):
    """A clear, one-line problem the user can act on."""
