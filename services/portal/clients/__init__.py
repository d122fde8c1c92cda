"""The services' HTTP APIs as the portal calls them, with the user's own token: the transport (transport.py)
and one module per API with portal-side models of the answers the pages read."""
