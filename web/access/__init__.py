"""Who may do what: sign-in and server-side sessions, CSRF, the login throttle, and the permission
rule of every route (permissions/)."""
