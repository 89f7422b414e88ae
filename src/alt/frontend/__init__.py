"""alt-frontend: the server-rendered web UI."""
