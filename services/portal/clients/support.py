"""support's API as the portal uses it (SUP-1, SUP-2): a customer's questions (ask, read the thread, reply, close,
reopen, rate, share), their attachments up and down, the knowledge-base search, the answering side's queue and the
month's figures."""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, Mapping
from typing import Any, ClassVar
from urllib.parse import urlencode

import aiohttp

from services.portal.clients.answers import Answer, Client, Listed, parsed
from services.portal.clients.transport import ServiceDown, ServiceError, Unauthenticated, segment

# An attachment (at most 20 MiB) may take a while on a slow link; a silent peer is given up after 2 minutes.
UPLOAD_TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=120)


class RoutedTo(Answer):
    mirrors = ("support.RoutedTo",)

    kind: str  # partner, vendor
    id: str | None = None
    name: str


class Question(Answer):
    """support's QuestionOut (and the same fields of a ThreadOut): a row of a list, a queue or an action's answer."""

    mirrors: ClassVar[tuple[str, ...]] = ("support.QuestionOut", "support.ThreadOut")

    id: str
    kind: str  # consulting, feedback
    state: str  # new, in_progress, waiting_for_customer, answered, closed
    subject: str
    subscriber_code: str
    registration_number: str | None = None
    configuration: str | None = None
    version: str | None = None
    platform_version: str | None = None
    routed_to: RoutedTo
    asked_at: str
    first_response_due: str
    first_response_at: str | None = None
    overdue: bool
    closed_at: str | None = None
    shared: bool
    assigned: bool
    rating: int | None = None
    rating_comment: str | None = None


class Message(Answer):
    mirrors = ("support.MessageOut",)

    side: str  # customer, staff
    author: str
    body: str  # Markdown, rendered by the portal (shared.markdown: raw HTML shown as text)
    minutes_spent: int | None = None
    asks_for_details: bool
    created_at: str


class Attachment(Answer):
    mirrors = ("support.AttachmentOut",)

    name: str
    content_type: str
    size: int
    side: str
    uploaded_at: str


class Thread(Question):
    """support's ThreadOut: the question with its messages and attachments, and what the caller is to it."""

    mirrors = ("support.ThreadOut",)

    body: str  # Markdown, as the messages'
    asker: str
    messages: list[Message]
    attachments: list[Attachment]
    you: str  # asker, owner, reader, staff


class Figure(Answer):
    mirrors = ("support.FigureOut",)

    id: str
    name: str
    questions: int
    answered: int
    minutes_spent: int
    median_first_response_minutes: int | None = None
    average_rating: float | None = None
    ratings: int


class Figures(Answer):
    mirrors = ("support.FiguresOut",)

    month: str
    per: str  # partner, subscriber
    groups: list[Figure]


class Hit(Answer):
    """One result of the knowledge-base search (SUP-2)."""

    mirrors = ("support.KnowledgeItem",)

    kind: str  # question, article
    id: str
    title: str
    snippet: str  # HTML whose only marks are <b>…</b>, escaped by the service (checked before it is shown)
    configuration: str | None = None
    date: str | None = None
    rank: float | None = None


class Hits(Answer):
    mirrors = ("support.KnowledgePage",)

    items: list[Hit]
    next_cursor: str | None = None
    suggestion: str | None = None


def _query(values: Mapping[str, str]) -> str:
    chosen = {key: value for key, value in values.items() if value}
    return "?" + urlencode(chosen) if chosen else ""


class Support(Client):
    # ---- the customer's side ----

    async def questions(self, token: str, query: Mapping[str, str]) -> Listed[Question]:
        return await self.get(Listed[Question], "/v1/questions" + _query(query), token)

    async def ask(self, token: str, body: Mapping[str, Any]) -> Question:
        return await self.send(Question, "POST", "/v1/questions", token, body)

    async def thread(self, token: str, question_id: str) -> Thread:
        return await self.get(Thread, f"/v1/questions/{segment(question_id)}", token)

    async def write(self, token: str, question_id: str, body: Mapping[str, Any]) -> None:
        await self.service.call("POST", f"/v1/questions/{segment(question_id)}/messages", token=token, json_body=body)

    async def act(self, token: str, question_id: str, action: str) -> Question:
        """`assign`, `close` or `reopen`."""
        return await self.send(Question, "POST", f"/v1/questions/{segment(question_id)}/{action}", token)

    async def rate(self, token: str, question_id: str, score: int, comment: str | None) -> Question:
        body = {"score": score, "comment": comment}
        return await self.send(Question, "POST", f"/v1/questions/{segment(question_id)}/rating", token, body)

    async def share(self, token: str, question_id: str, shared: bool) -> Question:
        path = f"/v1/questions/{segment(question_id)}/shared"
        return await self.send(Question, "PUT", path, token, {"shared": shared})

    async def attach(
        self, token: str, question_id: str, name: str, content_type: str, size: int, content: AsyncIterable[bytes]
    ) -> None:
        """A file streamed on as it is read (never whole in memory)."""
        await self.service.call(
            "PUT",
            f"/v1/questions/{segment(question_id)}/attachments/{segment(name)}",
            token=token,
            headers={"Content-Type": content_type, "Content-Length": str(size)},
            content=content,
            timeout=UPLOAD_TIMEOUT,
        )

    async def attachment(self, token: str, question_id: str, name: str) -> aiohttp.ClientResponse:
        """The download's response, its body not read yet: the caller streams it on and releases it. A refusal
        raises as any call does."""
        url = f"{self.service.base_url}/v1/questions/{segment(question_id)}/attachments/{segment(name)}"
        try:
            response = await self.service.http.get(url, headers={"Authorization": f"Bearer {token}"})
        except (TimeoutError, aiohttp.ClientError):
            raise ServiceDown(self.service.name) from None
        if response.status < 400:
            return response
        raw = await response.read()
        response.release()
        if response.status >= 500:
            raise ServiceDown(self.service.name)
        try:
            body = json.loads(raw) if raw else None
        except (ValueError, UnicodeDecodeError):
            body = None
        problem = body if isinstance(body, dict) else {}
        if response.status == 401:
            raise Unauthenticated(self.service.name, 401, problem)
        raise ServiceError(self.service.name, response.status, problem)

    async def search(self, token: str, query: Mapping[str, str]) -> Hits:
        return await self.get(Hits, "/v1/knowledge/search" + _query(query), token)

    # ---- the answering side (a partner's token, or an operator's) ----

    async def queue(self, token: str, query: Mapping[str, str]) -> Listed[Question]:
        return await self.get(Listed[Question], "/v1/support/queue" + _query(query), token)

    async def figures(self, token: str, month: str) -> Figures:
        answer = await self.service.call("GET", "/v1/support/figures" + _query({"month": month}), token=token)
        return parsed(self.service.name, Figures, answer)
