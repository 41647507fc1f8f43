"""Accounts (账户) and sign-in (登录): who may sign in with which role, their server-side sessions
and the login throttle. Modules: account (roles, passwords), logins (sessions, throttle), tables."""

from evaluation.accounts.account import ROLE_LABELS, Account, AuthenticationFailed, Role

__all__ = ["ROLE_LABELS", "Account", "AuthenticationFailed", "Role"]
