"""its-client: what an installed program needs of ITS Portal, as a library (`ItsClient`) and a command."""
