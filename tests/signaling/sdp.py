"""A real browser offer: Chromium 156 (Debian), headless, `RTCPeerConnection({iceServers: []})` with
an audio and a video transceiver (sendrecv) and a data channel, `createOffer()` — what a booth page
sends. Candidates are trickled separately, so the offer has none. 5,522 bytes.
"""

from pathlib import Path

CHROMIUM_OFFER = (Path(__file__).resolve().parents[1] / "vectors/webrtc/chromium-156-offer.sdp").read_bytes().decode()
