"""The errors crypto/ raises. Each message is one plain line a person can act on."""

from __future__ import annotations

from datetime import datetime, timezone


class CryptoError(Exception):
    """Base of every error raised by crypto/."""


class FormatError(CryptoError):
    """Input is not in the expected format (not an age file, bad armor, bad chain info…)."""


class IntegrityError(CryptoError):
    """Authenticated data failed its check: a changed byte in a header or payload, a bad proof."""


class BeaconError(CryptoError):
    """A beacon (drand round signature) cannot be used."""


class WrongChainError(BeaconError):
    """The ciphertext or beacon belongs to another drand chain than the one given."""


class WrongRoundError(BeaconError):
    """The signature given is not the one for the round the ciphertext is sealed to."""


class BadSignatureError(BeaconError):
    """A beacon signature does not verify under the chain's public key."""


class RoundNotReachedError(BeaconError):
    """The round has not come yet: nobody can open this before `opens_at`."""

    def __init__(self, round: int, opens_at: float) -> None:
        self.round = round
        self.opens_at = opens_at
        when = datetime.fromtimestamp(opens_at, tz=timezone.utc).isoformat(timespec="seconds")
        super().__init__(f"round {round} has not been reached yet: it opens at {when}")


class BeaconUnavailableError(BeaconError):
    """The beacon could not be reached or answered with an error."""
