"""The HTML pages a person reads (templates/ beside them): home, tenders and the hall, the
evaluation session and its report, the supervisor's audit pages."""
