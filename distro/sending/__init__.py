"""Sending: scheduling, audience expansion, the leased outbox queue and the sender engine."""
