"""Self-hosted passwordless magic-link login for Django, speaking the Descope magic-link API."""

__version__ = "0.1.0"
