"""Composition root: the aiohttp application, HTTP API, pages, background jobs and the `pingbiao` command."""
