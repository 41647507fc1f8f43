"""The media plane: Janus (VideoRoom SFU) started as a child process or reached at a URL.

signaling/ stays the control plane; this package only starts, supervises and drives Janus, and
turns its recordings into checkpoints (room, participant, stream, length, SHA-256 of the prefix).
"""
