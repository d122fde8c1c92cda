"""Which language a letter is written in: the person's, where we have templates for it, else English."""

from __future__ import annotations

from typing import get_args

from shared.events import E, Envelope, unwrap
from shared.events.identity import Language

LANGUAGES: tuple[Language, ...] = get_args(Language)
DEFAULT_LANGUAGE: Language = "en"


# Letters to partners (contracts' events): the events carry no language and notifications knows none for
# partners, so English, the default of every letter; the templates have Russian too, ready for when they do.
PARTNER_LANGUAGE: Language = DEFAULT_LANGUAGE


def pick_language(value: object) -> Language:
    """The account's language if we have templates for it, else English.

    Checked before the event is validated: a language identity adds before we have its
    templates must still get the person an e-mail, not park the event.
    """
    return next((language for language in LANGUAGES if language == value), DEFAULT_LANGUAGE)


def unwrap_in_our_languages(envelope: Envelope, model: type[E], language_field: str | None = "language") -> E:
    """The event's data (not fitting the schema: ValidationError, the message is parked).

    A language we have no templates for becomes English before validation (`language_field` None: the event
    carries no language).
    """
    if language_field is None:
        return unwrap(envelope, model)
    data = {**envelope.data, language_field: pick_language(envelope.data.get(language_field))}
    return unwrap(envelope.model_copy(update={"data": data}), model)
