"""Background jobs of the app: the helper that runs one as a cleanup context, and the opening
scheduler (开标) that opens bids once their beacon round exists."""
