"""What updates keeps on its application besides the kernel's (`shared.keys`): its settings, the kit storage,
the entitlement cache, the update graphs of the catalogue, the link signer, the downloads' figures and the online keys
of the signed update metadata."""

from __future__ import annotations

from aiohttp import web

from services.updates.download_figures import DownloadFigures
from services.updates.downloads import LinkSigner
from services.updates.entitlement_cache import EntitlementCache
from services.updates.graphs import Catalogues
from services.updates.rates_cache import RatesCache
from services.updates.settings import UpdatesSettings
from services.updates.tuf_keys import OnlineKeys
from shared.storage import ContentStorage

SETTINGS = web.AppKey("settings", UpdatesSettings)
STORAGE: web.AppKey[ContentStorage] = web.AppKey("kit_storage")
CACHE = web.AppKey("entitlement_cache", EntitlementCache)
RATES_CACHE = web.AppKey("rates_cache", RatesCache)
CATALOGUES = web.AppKey("catalogues", Catalogues)
SIGNER = web.AppKey("link_signer", LinkSigner)
DOWNLOADS = web.AppKey("download_figures", DownloadFigures)
# The online keys of the signed update metadata (none configured: the metadata is not maintained).
TUF_KEYS = web.AppKey("tuf_keys", OnlineKeys)
