"""The software pages' words (keys start with "software.")."""

EN: dict[str, str] = {}
RU: dict[str, str] = {}
