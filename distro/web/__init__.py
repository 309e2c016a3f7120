"""The web side: FastAPI app factory, webhook routes, public pages, and a threaded server."""
