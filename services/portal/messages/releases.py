"""The releases pages' words (keys start with "releases.")."""

EN: dict[str, str] = {}
RU: dict[str, str] = {}
