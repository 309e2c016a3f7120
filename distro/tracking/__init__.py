"""Delivery tracking: normalised events, webhook verification and parsing, signed link tokens."""
