"""The remote evaluation booth (评标舱): its page, room tokens and TURN credentials, the signaling
server mounted at /signaling, and presence reported to the audit log."""
