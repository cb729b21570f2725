"""The admin API's routes, one module per resource; importing them registers them on `api.bp`."""
