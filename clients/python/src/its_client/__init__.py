"""its-client: what an installed program needs of ITS Portal, as a library (`ItsClient`) and a command (`its-client`).

Log in with the portal login and password (ACC-3), ask whether the product is supported (MON-1), which updates to
install (UPD-5), download them verified and resumable, and ask the consulting line (SUP-1). See README.md.
"""

from its_client.client import DEFAULT_URL, ItsClient
from its_client.data import ExchangeRate, ExchangeRates
from its_client.errors import (
    AccessRefused,
    AttachmentFailed,
    Conflict,
    ConnectionFailed,
    DownloadFailed,
    FieldError,
    InvalidRequest,
    ItsError,
    KitCorrupt,
    LinkExpired,
    NotAuthenticated,
    NotCovered,
    NotFound,
    NoUpdateChain,
    Offer,
    OfferedProduct,
    PartnerChoice,
    PaymentRequired,
    ServiceUnavailable,
    TooManyRequests,
    UpdateNotTrusted,
)
from its_client.models import (
    Account,
    Attachment,
    Contact,
    DownloadStatus,
    Kit,
    Period,
    PlatformAdvice,
    Question,
    RegisteredProduct,
    RoutedTo,
    StatusContract,
    Step,
    SupportStatus,
    UpdatePlan,
)
from its_client.routes import Routes
from its_client.targets import target_path
from its_client.tokens import TokenStore, default_config_dir
from its_client.updating import FetchedKit, KitProgress, UpdateResult
from its_client.version import VERSION

__version__ = VERSION
__all__ = [
    "DEFAULT_URL",
    "AccessRefused",
    "Account",
    "Attachment",
    "AttachmentFailed",
    "Conflict",
    "ConnectionFailed",
    "Contact",
    "DownloadFailed",
    "DownloadStatus",
    "ExchangeRate",
    "ExchangeRates",
    "FetchedKit",
    "FieldError",
    "InvalidRequest",
    "ItsClient",
    "ItsError",
    "Kit",
    "KitCorrupt",
    "KitProgress",
    "LinkExpired",
    "NoUpdateChain",
    "NotAuthenticated",
    "NotCovered",
    "NotFound",
    "Offer",
    "OfferedProduct",
    "PartnerChoice",
    "PaymentRequired",
    "Period",
    "PlatformAdvice",
    "Question",
    "RegisteredProduct",
    "RoutedTo",
    "Routes",
    "ServiceUnavailable",
    "StatusContract",
    "Step",
    "SupportStatus",
    "TokenStore",
    "TooManyRequests",
    "UpdateNotTrusted",
    "UpdatePlan",
    "UpdateResult",
    "default_config_dir",
    "target_path",
]
