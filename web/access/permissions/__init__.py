"""Who may do what (权限), declared in one place and enforced for every route.

Each module of this package holds ``RULES: dict[str, Rule]`` (a bare set of roles or role names,
``"public"`` or ``"signed-in"`` is read as that Rule) keyed by route NAME (give every route
``name=``; a route with several methods on one path gets one name per method), or by
``"<prefix>/*"`` for every route of a sub-application mounted at ``<prefix>``. This package imports
every module in it, so a feature adds its rules by adding a file (core.py, tenders.py, booth.py…).
A name declared twice is an error at import.

The middleware enforces, in this order:

1. no route matched (404/405): the request goes on to its error;
2. no rule for the route: 403, logged as an error — a route nobody declared is closed;
3. signed out on a rule that is not public: an HTML GET is redirected to ``/login?next=…``,
   anything else gets 401;
4. a signed-in role the rule does not list: 403, one line naming the roles that may;
5. a supervisor on POST/PUT/PATCH/DELETE: 403 unless the rule is ``self_service`` (sign-in,
   sign-out, one's own password) or ``attests`` (the supervisor's own signature on a record, as
   监督人): supervisors read everything and change nothing, whatever a rule says.

``python -m web.access.permissions`` prints the rules table of docs/accounts.md (``--write`` updates it).
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
from dataclasses import dataclass
from enum import Enum
from typing import Literal

from aiohttp import web
from yarl import URL

from evaluation.accounts.account import Account, Role
from evaluation.errors import Text
from web.errors import Forbidden, Handler, Unauthorized
from web.labels import LABELS

log = logging.getLogger("pingbiao.permissions")

PUBLIC: Literal["public"] = "public"
SIGNED_IN: Literal["signed-in"] = "signed-in"
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class Rule:
    """Who may use a route: ``PUBLIC``, ``SIGNED_IN`` (any role), or a set of roles.

    `self_service`: the route acts only on the caller's own session or credentials (sign-in,
    sign-out, password), so a supervisor may use it with a state-changing method.
    `attests`: the route only adds the caller's own signature to a record (an audit-log entry
    naming the hash of what it saw), so a supervisor may sign as a witness (监督人签字) there.
    `doc`: one line for docs/accounts.md.
    """

    roles: frozenset[Role] | Literal["public", "signed-in"]
    doc: str = ""
    self_service: bool = False
    attests: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.roles, frozenset):
            if not self.roles or not all(isinstance(r, Role) for r in self.roles):
                raise ValueError("Rule roles must be a non-empty frozenset of Role")
        elif self.roles not in (PUBLIC, SIGNED_IN):
            raise ValueError(f"Rule roles must be a set of roles, 'public' or 'signed-in', not {self.roles!r}")


def roles(*given: Role) -> frozenset[Role]:
    """Shorthand for a rule's role set: ``Rule(roles(Role.supervisor, Role.admin))``."""
    return frozenset(given)


class Decision(Enum):
    allow = "allow"
    sign_in = "sign in first"
    wrong_role = "role not allowed"
    read_only = "supervisors change nothing"


def decide(rule: Rule, account: Account | None, method: str) -> Decision:
    """What the rule says about `account` (None: signed out) using `method` (pure)."""
    if rule.roles == PUBLIC:
        allowed = True
    elif account is None:
        return Decision.sign_in
    else:
        allowed = rule.roles == SIGNED_IN or (isinstance(rule.roles, frozenset) and account.role in rule.roles)
    if not allowed:
        return Decision.wrong_role
    if account is not None and account.role is Role.supervisor and method in STATE_CHANGING and not (rule.self_service or rule.attests):
        return Decision.read_only
    return Decision.allow


def describe(rule: Rule) -> str:
    """Who may use the rule's route, in words (zh-CN and English)."""
    if rule.roles == PUBLIC:
        return "任何人 anyone"
    if rule.roles == SIGNED_IN:
        return "已登录 any signed-in account"
    assert isinstance(rule.roles, frozenset)
    return ", ".join(r.label for r in Role if r in rule.roles)


def allowed(rule: Rule) -> Text:
    """Who may use the rule's route, as a message quotes it (each role name translated)."""
    if rule.roles == PUBLIC:
        return Text("任何人")
    if rule.roles == SIGNED_IN:
        return Text("已登录的账户")
    assert isinstance(rule.roles, frozenset)
    return Text.join([Text(LABELS["role"][r.value]) for r in Role if r in rule.roles], "、")


def _collect() -> dict[str, Rule]:
    found: dict[str, Rule] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        for name, declared in getattr(module, "RULES", {}).items():
            if name in found:
                raise ValueError(f"permission rule {name!r} is declared twice (again in {module.__name__})")
            found[name] = as_rule(declared, f"{module.__name__}.RULES[{name!r}]")
    return found


def as_rule(declared: object, where: str) -> Rule:
    """A Rule as declared: a Rule, "public", "signed-in", or a set of roles (Role or role names)."""
    if isinstance(declared, Rule):
        return declared
    if declared in (PUBLIC, SIGNED_IN):
        return Rule(PUBLIC if declared == PUBLIC else SIGNED_IN)
    if isinstance(declared, (set, frozenset)):
        try:
            return Rule(frozenset(Role(r) for r in declared))
        except ValueError:
            pass
    raise TypeError(f"{where} is not a Rule, 'public', 'signed-in' or a set of roles: {declared!r}")


def rule_key(request: web.Request) -> str | None:
    """The RULES key of the matched route: its name, or ``<prefix>/*`` inside a sub-application."""
    match = request.match_info
    if len(match.apps) > 1:
        prefix = subapp_prefixes(match.apps[-2]).get(id(match.apps[-1]))
        return None if prefix is None else f"{prefix}/*"
    resource = match.route.resource
    return None if resource is None else resource.name


def subapp_prefixes(app: web.Application) -> dict[int, str]:
    """Prefix of every sub-application mounted on `app`, by id of the sub-application."""
    found: dict[int, str] = {}
    for resource in app.router.resources():
        info = resource.get_info()
        if isinstance(resource, web.PrefixedSubAppResource):
            found[id(info["app"])] = str(info["prefix"])
    return found


def _wants_html(request: web.Request) -> bool:
    return request.method in {"GET", "HEAD"} and "text/html" in request.headers.get("Accept", "")


@web.middleware
async def permission_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.match_info.http_exception is not None:
        return await handler(request)  # 404 / 405: nothing to protect
    key = rule_key(request)
    rule = RULES.get(key) if key else None
    if rule is None:
        log.error("route has no permission rule: denied", extra={"route": key, "path": request.path, "method": request.method})
        raise Forbidden("此路径未声明权限")
    account: Account | None = request.get("account")
    decision = decide(rule, account, request.method)
    if decision is Decision.allow:
        return await handler(request)
    log.info("access denied", extra={"route": key, "method": request.method, "reason": decision.value,
                                     "account": account.id if account else None})
    if decision is Decision.sign_in:
        if _wants_html(request):
            raise web.HTTPFound(str(URL("/login").with_query(next=request.path_qs)))
        raise Unauthorized("请先登录")
    assert account is not None
    if decision is Decision.read_only:
        raise Forbidden("监管账户只读")
    raise Forbidden("无权访问：{role}不能进行此操作，允许：{allowed}", role=Text(LABELS["role"][account.role.value]),
                    allowed=allowed(rule))


def install_permissions(app: web.Application) -> None:
    """Log, at start-up, every route that has no rule (it will be denied)."""

    async def check(app: web.Application) -> None:
        for key in sorted(route_keys(app), key=str):
            if key not in RULES:
                log.error("route has no permission rule: it will be denied", extra={"route": key})

    app.on_startup.append(check)


def route_keys(app: web.Application) -> set[str | None]:
    """The RULES key of every route of `app` (None for an unnamed route of the main app)."""
    prefixes = subapp_prefixes(app)
    keys: set[str | None] = set()
    for resource in app.router.resources():
        if isinstance(resource, web.PrefixedSubAppResource):
            keys.add(f"{prefixes[id(resource.get_info()['app'])]}/*")
        else:
            keys.add(resource.name)
    return keys


RULES: dict[str, Rule] = _collect()
"""Every rule of every module of this package, by route name."""
