"""Login throttling (登录限制) at the HTTP edge: which keys a sign-in counts against, and the 429.

Keys (evaluation/accounts/logins.py, ``SignInKeys``): this username from this client address (5
free failures per 15 minutes), this address across usernames (20: an office behind one NAT shares
it), and this username from every address (20, holding only addresses that have failed for it, so
an attacker cannot keep the owner locked out from elsewhere). The address is the client's
(web/access/proxies.py: the TCP peer, or the X-Forwarded-For client behind a trusted proxy). Each
attempt is counted before its password is checked and refunded after a success, in one locked
transaction, so parallel guesses are counted one after another. Counts live in ``login_throttle``,
so restarting the server resets nothing.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

from evaluation.accounts.account import normalize_username
from evaluation.accounts.logins import SignInKeys
from evaluation.errors import Text


def sign_in_keys(address: str, username: str) -> SignInKeys:
    user = normalize_username(username)[:120]
    addr = (address or "unknown")[:64]
    return SignInKeys(pair=f"pair:{user}|{addr}", address=f"ip:{addr}", account=f"user:{user}")


def retry_message(until_us: int, at_us: int) -> tuple[Text, int]:
    """The one-line 429 message and the Retry-After seconds."""
    seconds = max(1, math.ceil((until_us - at_us) / 1_000_000))
    wait = Text("{m} 分 {s} 秒", m=seconds // 60, s=seconds % 60) if seconds >= 60 else Text("{s} 秒", s=seconds)
    at = datetime.fromtimestamp(until_us / 1_000_000, tz=UTC).strftime("%H:%M:%S UTC")
    return Text("登录失败次数过多，请 {wait}后再试（{at}）", wait=wait, at=at), seconds
