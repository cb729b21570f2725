"""Sandbox identity providers: each speaks its vendor's HTTP API over a seeded directory."""
