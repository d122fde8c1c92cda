"""Development tools: the local stack manager and the SMTP sink. Not shipped to production."""
