"""Faces: the CLI, the HTTP API and the web pages. They call services only."""
