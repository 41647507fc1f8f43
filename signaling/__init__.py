"""WebRTC signaling: rooms, participants, protocol messages, relay bus. Knows nothing of tenders."""
