"""Persistent and duplicate contact: rate windows, near-duplicates and campaigns per customer."""

from gateway.contact.history import CustomerHistory
from gateway.contact.settings import ContactSettings
from gateway.contact.tracker import ContactTracker

__all__ = ["ContactSettings", "ContactTracker", "CustomerHistory"]
