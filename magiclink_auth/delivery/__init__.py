"""Pluggable delivery of links, one backend per method, in the shape of Django's CACHES setting."""

from .base import BaseBackend, DeliveryResult, LinkMessage, get_backend

__all__ = ["BaseBackend", "DeliveryResult", "LinkMessage", "get_backend"]
