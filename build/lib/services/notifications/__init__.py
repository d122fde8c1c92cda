"""notifications: e-mail to people about what happened in other services, with a delivery log."""
