"""What registration keeps on its application besides the kernel's (`shared.keys`): its settings, the PIN
hasher and the wrong-PIN throttling policy (REG-7)."""

from __future__ import annotations

from aiohttp import web

from services.registration.domain import PinThrottle
from services.registration.pins import Pins
from services.registration.settings import RegistrationSettings

SETTINGS = web.AppKey("settings", RegistrationSettings)
PINS = web.AppKey("pins", Pins)
THROTTLE = web.AppKey("pin_throttle", PinThrottle)
