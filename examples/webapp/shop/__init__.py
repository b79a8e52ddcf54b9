"""A small stand-in for a Django project: settings from the environment,
Postgres through the psql client, Redis through its wire protocol."""
