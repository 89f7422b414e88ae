"""alt-backend: the REST API for the UI and for feed-reader apps."""
