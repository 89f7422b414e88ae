"""What every service shares: settings-driven database access, migrations, the job queue,
the ASGI app factory, structured logs, metrics, errors and service-to-service trust."""
