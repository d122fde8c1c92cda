"""Content (kits, attachments) in an S3-compatible bucket, by sha256: uploaded in parts (multipart upload), requests
signed with AWS Signature Version 4."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import math
import xml.etree.ElementTree as ET  # only our own configured S3 endpoint's answers are parsed
from collections.abc import AsyncIterable, AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import aiohttp
from yarl import URL

from shared.storage.check import READ_CHUNK, Checker, ContentMismatch, check_sha256, drain_and_check

UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
MIN_PART = 8 * 1024 * 1024  # S3 needs parts of 5 MiB or more (but the last); at most 10,000 parts
MAX_PARTS = 10_000


@dataclass(frozen=True)
class S3Credentials:
    access_key: str
    secret_key: str
    region: str
    service: str = "s3"


class S3Error(RuntimeError):
    def __init__(self, what: str, status: int, body: str) -> None:
        super().__init__(f"S3 {what}: HTTP {status}: {body[:300]}")
        self.status = status


def sign_v4(
    method: str,
    path: str,
    query: Mapping[str, str],
    headers: Mapping[str, str],
    payload_sha256: str,
    credentials: S3Credentials,
    now: datetime,
) -> dict[str, str]:
    """AWS Signature Version 4: `headers` (Host included) plus x-amz-date, x-amz-content-sha256 and
    Authorization. `path` is the decoded object path; every header given is signed."""
    amz_date = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    day = amz_date[:8]
    signed_headers = {**headers, "x-amz-date": amz_date, "x-amz-content-sha256": payload_sha256}
    canonical = {name.lower().strip(): " ".join(value.strip().split()) for name, value in signed_headers.items()}
    names = sorted(canonical)
    canonical_query = "&".join(
        f"{key}={value}" for key, value in sorted((quote(k, safe=""), quote(v, safe="")) for k, v in query.items())
    )
    canonical_request = "\n".join(
        [
            method,
            quote(path, safe="/"),
            canonical_query,
            "".join(f"{name}:{canonical[name]}\n" for name in names),
            ";".join(names),
            payload_sha256,
        ]
    )
    scope = f"{day}/{credentials.region}/{credentials.service}/aws4_request"
    string_to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical_request.encode()).hexdigest()]
    )
    key = ("AWS4" + credentials.secret_key).encode()
    for part in (day, credentials.region, credentials.service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    authorization = (
        f"AWS4-HMAC-SHA256 Credential={credentials.access_key}/{scope},"
        f"SignedHeaders={';'.join(names)},Signature={signature}"
    )
    return {**signed_headers, "Authorization": authorization}


class S3Storage:
    """Kits as objects `<prefix><sha256>` in a bucket (path-style URLs, so MinIO, Ceph, moto... work too).

    An upload is a multipart upload completed only after the whole stream matched its size and sha256,
    so the object appears at once or not at all; a mismatch aborts it.
    """

    def __init__(
        self,
        *,
        endpoint: str,
        bucket: str,
        credentials: S3Credentials,
        prefix: str = "kits/",
        part_size: int = MIN_PART,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        if not endpoint or not bucket:
            raise ValueError("S3 storage needs an endpoint and a bucket (ITS_S3_ENDPOINT, ITS_S3_BUCKET)")
        self.endpoint = URL(endpoint)
        self.bucket, self.credentials, self.prefix, self.part_size = bucket, credentials, prefix, part_size
        self._session = session
        self._own_session = session is None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:  # created lazily: it must be made inside the running loop
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, sock_connect=10))
        return self._session

    async def close(self) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    def local_path(self, sha256: str) -> Path | None:
        return None

    def _object_path(self, sha256: str) -> str:
        check_sha256(sha256)
        return f"/{self.bucket}/{self.prefix}{sha256}"

    def _request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        payload_sha256: str = EMPTY_SHA256,
        data: bytes | AsyncIterable[bytes] | None = None,
    ) -> aiohttp.client._RequestContextManager:
        query = dict(query or {})
        url = self.endpoint.with_path(quote(path, safe="/"), encoded=True).with_query(query or None)
        host = self.endpoint.host or ""
        if not self.endpoint.is_default_port():
            host = f"{host}:{self.endpoint.port}"
        signed = sign_v4(
            method,
            path,
            query,
            {"Host": host, **(headers or {})},
            payload_sha256,
            self.credentials,
            datetime.now(UTC),  # S3 checks the wall clock, never the movable test clock
        )
        return self.session.request(method, url, headers=signed, data=data, skip_auto_headers=("Content-Type",))

    async def _head(self, sha256: str) -> int | None:
        async with self._request("HEAD", self._object_path(sha256)) as response:
            if response.status == 404:
                return None
            if response.status != 200:
                raise S3Error("HEAD object", response.status, "")
            return int(response.headers["Content-Length"])

    async def has(self, sha256: str) -> bool:
        return await self._head(sha256) is not None

    async def size(self, sha256: str) -> int | None:
        return await self._head(sha256)

    async def open_range(self, sha256: str, start: int, stop: int) -> AsyncIterator[bytes]:
        if stop <= start:
            return
        headers = {"Range": f"bytes={start}-{stop - 1}"}
        async with self._request("GET", self._object_path(sha256), headers=headers) as response:
            if response.status not in (200, 206):
                raise S3Error("GET object", response.status, await response.text())
            if response.status == 200 and start != 0:
                raise S3Error("GET object ignored the range", response.status, "")
            remaining = stop - start
            async for chunk in response.content.iter_chunked(READ_CHUNK):
                chunk = chunk[:remaining]
                remaining -= len(chunk)
                yield chunk
                if remaining <= 0:
                    return
            if remaining > 0:
                raise EOFError(f"kit {sha256} ended {remaining} bytes early")

    async def put(self, chunks: AsyncIterable[bytes], *, sha256: str, size: int) -> None:
        checker = Checker(sha256, size)
        if await self.has(sha256):
            await drain_and_check(chunks, checker)
            return
        path = self._object_path(sha256)
        upload_id = await self._create_upload(path)
        try:
            parts = await self._upload_parts(path, upload_id, _Parts(chunks, checker))
            checker.finish()
            await self._complete_upload(path, upload_id, parts)
        except BaseException:
            with contextlib.suppress(Exception):
                await asyncio.shield(self._abort_upload(path, upload_id))
            raise

    async def _upload_parts(self, path: str, upload_id: str, source: _Parts) -> list[tuple[int, str]]:
        size = source.checker.size
        part_size = max(self.part_size, math.ceil(size / MAX_PARTS))
        parts: list[tuple[int, str]] = []
        offset = 0
        while offset < size or not parts:  # an empty kit is one empty part
            length = min(part_size, size - offset)
            number = len(parts) + 1
            query = {"partNumber": str(number), "uploadId": upload_id}
            headers = {"Content-Length": str(length)}
            try:
                async with self._request(
                    "PUT", path, query=query, headers=headers, payload_sha256=UNSIGNED_PAYLOAD, data=source.take(length)
                ) as response:
                    if response.status != 200:
                        raise S3Error("upload part", response.status, await response.text())
                    parts.append((number, response.headers["ETag"]))
            except Exception:
                if source.refused is not None:  # the stream broke the declaration mid-part
                    raise source.refused from None
                raise
            offset += length
        await source.expect_end()
        return parts

    async def _create_upload(self, path: str) -> str:
        async with self._request("POST", path, query={"uploads": ""}) as response:
            body = await response.text()
            if response.status != 200:
                raise S3Error("create multipart upload", response.status, body)
        upload_id = _xml_text(body, "UploadId")
        if not upload_id:
            raise S3Error("create multipart upload: no UploadId", response.status, body)
        return upload_id

    async def _complete_upload(self, path: str, upload_id: str, parts: list[tuple[int, str]]) -> None:
        xml = "".join(f"<Part><PartNumber>{n}</PartNumber><ETag>{_xml_escape(etag)}</ETag></Part>" for n, etag in parts)
        body = f"<CompleteMultipartUpload>{xml}</CompleteMultipartUpload>".encode()
        async with self._request(
            "POST",
            path,
            query={"uploadId": upload_id},
            headers={"Content-Type": "application/xml"},
            payload_sha256=hashlib.sha256(body).hexdigest(),
            data=body,
        ) as response:
            text = await response.text()
            # S3 may answer 200 with an <Error> body when completion fails late.
            if response.status != 200 or "<Error>" in text:
                raise S3Error("complete multipart upload", response.status, text)

    async def _abort_upload(self, path: str, upload_id: str) -> None:
        async with self._request("DELETE", path, query={"uploadId": upload_id}) as response:
            if response.status not in (200, 204, 404):
                raise S3Error("abort multipart upload", response.status, await response.text())


class _Parts:
    """Cuts the incoming stream into the parts' exact lengths, checking it as it goes."""

    def __init__(self, chunks: AsyncIterable[bytes], checker: Checker) -> None:
        self.iterator = aiter(chunks)
        self.checker = checker
        self.pending = b""
        self.refused: ContentMismatch | None = None

    async def _next(self) -> bytes | None:
        async for chunk in self.iterator:
            if chunk:
                try:
                    self.checker.count(chunk)
                except ContentMismatch as exc:
                    self.refused = exc
                    raise
                self.checker.hasher.update(chunk)
                return chunk
        return None

    async def take(self, length: int) -> AsyncIterator[bytes]:
        while length > 0:
            if not self.pending:
                chunk = await self._next()
                if chunk is None:  # the stream ended early: fail the part request, never send it short
                    self.refused = self.checker.mismatch(
                        f"received {self.checker.received} bytes, the kit was declared with {self.checker.size}"
                    )
                    raise self.refused
                self.pending = chunk
            piece, self.pending = self.pending[:length], self.pending[length:]
            length -= len(piece)
            yield piece

    async def expect_end(self) -> None:
        if self.pending or await self._next() is not None:
            raise self.checker.mismatch(f"the kit is larger than the declared {self.checker.size} bytes")


def _xml_text(body: str, tag: str) -> str | None:
    root = ET.fromstring(body)  # noqa: S314 (our own configured S3 endpoint's answer)
    for element in root.iter():
        if element.tag == tag or element.tag.endswith("}" + tag):
            return element.text
    return None


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
