"""A paginator that never counts the table it pages through.

``SELECT COUNT(*)`` over a million applies reads a whole index every time a list page loads.
``PeekPaginator`` reads only the page it shows plus one row: that extra row says whether a next
page exists. Its ``count`` is therefore honest but partial: the rows up to the current page,
plus one when more follow (``has_more``). On the last page it is exact.

Django admin's ``ChangeList`` reads ``paginator.count`` before it asks for the page, so the
paginator must know the page it will be asked for: pass ``page`` (admin: the ``p`` parameter).
The rows read for ``count`` are the rows the page returns: one query per list page.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from django.core.paginator import Page, Paginator


class PeekPaginator(Paginator):
    never_counts = True

    def __init__(
        self,
        object_list: Any,
        per_page: int | str,
        orphans: int = 0,
        allow_empty_first_page: bool = True,
        *,
        page: int = 1,
    ) -> None:
        # Orphans would need the count this paginator never takes.
        super().__init__(object_list, per_page, 0, allow_empty_first_page)
        self.current = max(1, page)

    @property
    def offset(self) -> int:
        return (self.current - 1) * self.per_page

    @cached_property
    def window(self) -> list[Any]:
        """The current page's rows plus, when a next page exists, its first row."""
        return list(self.object_list[self.offset : self.offset + self.per_page + 1])

    @cached_property
    def count(self) -> int:
        """Rows up to the end of the current page, plus one if another page follows."""
        return self.offset + len(self.window)

    @property
    def has_more(self) -> bool:
        return len(self.window) > self.per_page

    @property
    def shown_from(self) -> int:
        return self.offset + 1 if self.window else 0

    @property
    def shown_to(self) -> int:
        return self.offset + min(len(self.window), self.per_page)

    def page(self, number: int | str) -> Page:
        number = self.validate_number(number)
        if number == self.current:
            return Page(self.window[: self.per_page], number, self)
        bottom = (number - 1) * self.per_page
        return Page(self.object_list[bottom : bottom + self.per_page], number, self)

    @staticmethod
    def page_number(value: object) -> int:
        """The page asked for in a request parameter; anything unreadable is page 1."""
        try:
            return max(1, int(str(value)))
        except (TypeError, ValueError):
            return 1
