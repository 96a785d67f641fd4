"""An ASGI middleware that refuses request bodies over a size limit without reading them whole."""

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodySizeLimit:
    """Answer 413 to bodies over `max_bytes`.

    A declared Content-Length over the limit is refused before one byte of the body is
    read; a chunked body is counted as it streams in and refused as soon as it passes the
    limit, so at most `max_bytes` plus one chunk is ever held.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _message(self) -> str:
        return f"the upload is larger than the {self.max_bytes:,}-byte limit; send a smaller image"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await JSONResponse({"detail": self._message()}, status_code=413)(scope, receive, send)
            return

        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # An HTTPException passes through FastAPI's body parsing untouched and
                    # becomes a JSON 413 in Starlette's exception middleware.
                    raise HTTPException(status_code=413, detail=self._message())
            return message

        await self.app(scope, counting_receive, send)
