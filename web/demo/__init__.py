"""Demo data for newcomers: accounts per role, a tender opening in minutes, the timelock demo page,
and `pingbiao demo --fast`, a whole tender played through the HTTP API."""
