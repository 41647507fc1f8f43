"""Who may use the booth routes (评标舱), by route name (format: web/access/permissions/__init__.py).

Roles are the first gate; which room an account may enter is decided by ``web.booth.may_join``.
The signaling WebSocket is public at the HTTP level: the room token its first message must carry
is the credential (signed by web/, short-lived, naming room, account and role), and Python or
other non-browser clients have no session cookie.
"""

from __future__ import annotations

from evaluation.accounts.account import Role
from web.access.permissions import PUBLIC, Rule, roles

BOOTH = roles(Role.expert, Role.agency, Role.supervisor)

RULES: dict[str, Rule] = {
    "booth.page": Rule(BOOTH, "评标舱 the booth page of an evaluation session (experts, its agency as host, supervisors)"),
    "booth.token": Rule(BOOTH, "a short-lived room token to join a booth room (GET: supervisors join too)"),
    "booth.janus": Rule(BOOTH, "a member's own media session on the booth's Janus (filtered proxy, docs/media.md)", self_service=True),
    "booth.janus_session": Rule(BOOTH, "attach to the VideoRoom, keep one's own media session alive, end it", self_service=True),
    "booth.janus_events": Rule(BOOTH, "the events of one's own media session (long-poll)"),
    "booth.janus_handle": Rule(BOOTH, "publish one's own camera/screen, subscribe to the room's feeds", self_service=True),
    "/signaling/*": Rule(PUBLIC, "signaling WebSocket; the room token in its first message is the credential"),
}
