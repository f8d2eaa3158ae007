"""The list convention every paged route shares (decision 0033): ``cursor`` and ``limit`` in the query, ``items`` and
``next_cursor`` in the answer. The paging itself is ``backend.core.cursors.keyset_page``."""

from __future__ import annotations

from ninja import Schema
from pydantic import Field

from backend.core.cursors import MAX_CURSOR_CHARS, MAX_PAGE_LIMIT

from .types import Text

DEFAULT_LIMIT = 50
NEXT_CURSOR = "Pass as `cursor` for the next page; null on the last one."


class CursorPageQuery(Schema):
    cursor: Text | None = Field(
        None,
        max_length=MAX_CURSOR_CHARS,
        description="`next_cursor` of the previous page (422 `invalid_cursor` for anything else).",
    )
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_PAGE_LIMIT, description="Rows per page.")
