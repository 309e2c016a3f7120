"""Outgoing webhooks: staff register URLs (``distro hooks``) that receive our normalised events
as signed JSON batches, in event order, at least once, with retries and a delivery log.

endpoints  registering and managing receivers (URL checks, filters, pause, log)
destinations  public addresses only: checked at registration and, pinned, on every delivery
vault      endpoint secrets: generated, shown once, stored encrypted
signing    the X-Distro-Signature scheme and ``verify_signature`` for receivers
batches    which events an endpoint gets next, and their JSON shape
claims     leases, cursor and retry state in the database
post       one signed POST and what its answer means
delivery   the worker job and the test ping
"""
