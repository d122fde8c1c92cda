"""identity's API as the portal uses it: accounts, tokens, the account's subscribers and partner cabinets."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from services.portal.clients.answers import Answer, Client, Listed, parsed
from services.portal.clients.transport import ServiceError, segment
from services.portal.sessions import Tokens


class Account(Answer):
    """identity's AccountOut (POST /v1/accounts, GET /v1/me)."""

    mirrors = ("identity.AccountOut",)

    id: str
    login: str
    email: str
    email_verified: bool
    full_name: str | None = None
    language: str


class Verification(Answer):
    """identity's VerificationOut (POST /v1/email-verifications)."""

    mirrors = ("identity.VerificationOut",)

    email_verified: bool
    login: str
    email: str


class EmailChangeSent(Answer):
    """identity's EmailChangeSent (POST /v1/me/email-change): where the link went, valid until when."""

    mirrors = ("identity.EmailChangeSent",)

    sent_to: str
    valid_until: str


class EmailChangeDone(Answer):
    """identity's EmailChangeDone (POST /v1/email-changes): the account's address now."""

    mirrors = ("identity.EmailChangeDone",)

    login: str
    email: str


class Contact(Answer):
    mirrors = ("identity.Contact",)

    name: str
    email: str


class Subscriber(Answer):
    """identity's SubscriberOut (GET/PATCH /v1/subscriber): the subscriber the token acts for."""

    mirrors = ("identity.SubscriberOut",)

    id: str
    code: str
    name: str
    owner: Contact
    role: str
    rights: list[str]


class Membership(Answer):
    """identity's MembershipOut (GET /v1/me/subscribers)."""

    mirrors = ("identity.MembershipOut",)

    code: str
    name: str
    role: str
    rights: list[str]
    joined_at: str


class Partner(Answer):
    """identity's PartnerOut (GET /v1/partners, /v1/partners/{id})."""

    mirrors = ("identity.PartnerOut",)

    id: str
    name: str
    tin: str
    city: str
    contact_email: str
    created_at: str
    deactivated_at: str | None = None


class MyPartner(Partner):
    """identity's MyPartner (GET /v1/me/partners): a partner whose staff the account is on."""

    mirrors = ("identity.MyPartner",)

    admin: bool


class _Tokens(Answer):
    mirrors = ("identity.TokenOut",)

    access_token: str
    refresh_token: str | None = None  # none for a partner's cabinet (identity leaves it out)


class DirectoryPartner(Answer):
    """identity's DirectoryPartner: an active partner, whom a customer may turn to for ITS or a product."""

    mirrors = ("identity.DirectoryPartner",)

    id: str
    name: str
    city: str
    contact_email: str


class Identity(Client):
    """identity's API (accounts, tokens, subscribers), as the portal uses it."""

    async def register(self, account: Mapping[str, Any], client_address: str) -> Account:
        body = await self.service.call("POST", "/v1/accounts", json_body=account, client_address=client_address)
        return parsed(self.service.name, Account, body)

    async def verify_email(self, token: str) -> Verification:
        body = await self.service.call("POST", "/v1/email-verifications", json_body={"token": token})
        return parsed(self.service.name, Verification, body)

    async def password_login(
        self, login: str, password: str, client_address: str, subscriber: str | None = None
    ) -> Tokens:
        form = {"grant_type": "password", "username": login, "password": password}
        if subscriber:
            form["subscriber"] = subscriber
        body = await self.service.call("POST", "/oauth/token", form=form, client_address=client_address)
        tokens = parsed(self.service.name, _Tokens, body)
        return Tokens(access=tokens.access_token, refresh=tokens.refresh_token or "")

    async def partner_login(self, login: str, password: str, partner_id: str, client_address: str) -> str:
        """A partner cabinet's access token for a staff member (scope `partner`; no refresh token)."""
        form = {"grant_type": "password", "username": login, "password": password, "partner": partner_id}
        body = await self.service.call("POST", "/oauth/token", form=form, client_address=client_address)
        return parsed(self.service.name, _Tokens, body).access_token

    async def my_partners(self, token: str) -> list[MyPartner]:
        """The partners whose staff this account is on, with `admin`."""
        body = await self.service.call("GET", "/v1/me/partners", token=token)
        return parsed(self.service.name, Listed[MyPartner], body).items

    async def refresh(self, refresh_token: str, subscriber: str | None = None) -> Tokens | None:
        """New tokens (identity rotates the refresh token), or None when the refresh token is no longer valid.

        With `subscriber` the new tokens act for that subscriber of the account (SUB-7); one the account does
        not belong to raises ServiceError `invalid_scope`, and the refresh token stays valid.
        """
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        if subscriber:
            form["subscriber"] = subscriber
        try:
            body = await self.service.call("POST", "/oauth/token", form=form)
        except ServiceError as exc:
            if exc.status == 401 or exc.slug == "invalid_grant":
                return None
            raise
        tokens = parsed(self.service.name, _Tokens, body)
        return Tokens(access=tokens.access_token, refresh=tokens.refresh_token or "")

    async def revoke(self, refresh_token: str) -> None:
        """Revoke the refresh token and every token rotated from it (RFC 7009), as a logout does."""
        await self.service.call(
            "POST", "/oauth/revoke", form={"token": refresh_token, "token_type_hint": "refresh_token"}
        )

    async def request_password_reset(self, email: str, client_address: str) -> None:
        await self.service.call(
            "POST", "/v1/password-resets", json_body={"email": email}, client_address=client_address
        )

    async def confirm_password_reset(self, token: str, new_password: str) -> None:
        await self.service.call(
            "POST", "/v1/password-resets/confirm", json_body={"token": token, "new_password": new_password}
        )

    async def me(self, token: str) -> Account:
        return parsed(self.service.name, Account, await self.service.call("GET", "/v1/me", token=token))

    async def resend_verification(self, token: str) -> None:
        await self.service.call("POST", "/v1/me/email-verification", token=token)

    async def change_password(self, token: str, current_password: str, new_password: str) -> None:
        body = {"current_password": current_password, "new_password": new_password}
        await self.service.call("POST", "/v1/me/password", token=token, json_body=body)

    async def rename_me(self, token: str, full_name: str | None) -> Account:
        """The account's full name (None: none)."""
        body = await self.service.call("PATCH", "/v1/me", token=token, json_body={"full_name": full_name})
        return parsed(self.service.name, Account, body)

    async def request_email_change(
        self, token: str, new_email: str, password: str, client_address: str
    ) -> EmailChangeSent:
        """A link to `new_email` that makes it the account's address; the password is checked like a login's, from
        the browser's address."""
        body = await self.service.call(
            "POST",
            "/v1/me/email-change",
            token=token,
            json_body={"new_email": new_email, "password": password},
            client_address=client_address,
        )
        return parsed(self.service.name, EmailChangeSent, body)

    async def confirm_email_change(self, link_token: str) -> EmailChangeDone:
        body = await self.service.call("POST", "/v1/email-changes", json_body={"token": link_token})
        return parsed(self.service.name, EmailChangeDone, body)

    async def subscriber(self, token: str) -> Subscriber:
        return parsed(self.service.name, Subscriber, await self.service.call("GET", "/v1/subscriber", token=token))

    async def my_subscribers(self, token: str) -> list[Membership]:
        body = await self.service.call("GET", "/v1/me/subscribers", token=token)
        return parsed(self.service.name, Listed[Membership], body).items

    async def rename_subscriber(self, token: str, name: str) -> Subscriber:
        body = await self.service.call("PATCH", "/v1/subscriber", token=token, json_body={"name": name})
        return parsed(self.service.name, Subscriber, body)

    # ---- the partner directory (any logged-in account) ----

    async def partner_directory(self, token: str, cursor: str | None = None) -> Listed[DirectoryPartner]:
        """A page of the active partners, by name (`cursor`: the previous page's `next_cursor`)."""
        query = "?" + urlencode({"cursor": cursor}) if cursor else ""
        return await self.get(Listed[DirectoryPartner], f"/v1/partner-directory{query}", token)

    async def directory_partner(self, token: str, partner_id: str) -> DirectoryPartner:
        """An active partner; a deactivated or unknown one: ServiceError 404."""
        return await self.get(DirectoryPartner, f"/v1/partner-directory/{segment(partner_id)}", token)
