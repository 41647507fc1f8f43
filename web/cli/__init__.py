"""The `pingbiao` command line (web.cli.main:main): serve, demo, beacon, seal/unseal, accounts,
experts, audit. Each command group in its own module; installation.py opens the data directory."""
