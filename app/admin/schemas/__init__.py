"""marshmallow schemas of every admin API body and answer (the OpenAPI file is made from them)."""
