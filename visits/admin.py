import datetime
from typing import Any, Literal, TypedDict, cast

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.core.paginator import Paginator
from django.db.models import Max, Min, QuerySet, Sum
from django.http import HttpRequest
from django.template.defaultfilters import truncatechars
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from visits.access_queries import access_count
from visits.models import Access, HourlyAccessCountSlot
from visits.request_details import ip_address

admin.site.site_header = _("Visits administration")
admin.site.site_title = _("Visits")
admin.site.index_title = _("Page views and their records")

_HOUR = datetime.timedelta(hours=1)
# What QuerySet.datetimes may truncate to and in which order it may sort.
_Kind = Literal["year", "month", "week", "day", "hour", "minute", "second"]
_Order = Literal["ASC", "DESC"]


class _StartOf(TypedDict, total=False):
    """The fields that datetime.replace sets to reach the start of a year, month or day."""

    month: int
    day: int
    hour: int


_TRUNCATIONS: dict[str, _StartOf] = {
    "year": {"month": 1, "day": 1, "hour": 0},
    "month": {"day": 1, "hour": 0},
    "day": {"hour": 0},
}
# The filters that leave one unbroken range of created_at: the date filter's
# bounds, and the date hierarchy's year, month and day, which Django turns into
# bounds when the year is given (a month alone is a lookup on every year).
_RANGE_PARAMS = {"created_at__gte", "created_at__gt", "created_at__lte", "created_at__lt"}
_HIERARCHY_PARAMS = {"created_at__year", "created_at__month", "created_at__day"}


class AccessPaginator(Paginator):
    """Counts the whole table from the trigger-kept access count, not with count(*)."""

    @cached_property
    def count(self) -> int:
        # The admin pages its changelist's queryset, never a plain sequence.
        queryset = cast(QuerySet[Access], self.object_list)
        if not queryset.query.has_filters():
            return access_count()
        return super().count


class HourlyDatesQuerySet(QuerySet[Access]):
    """
    Accesses within one range of created_at, whose years, months and days the
    hourly counts can tell: the date hierarchy's DISTINCT over the whole table
    takes seconds at ten million rows.
    """

    # Where the hourly counts answer, a list rather than a QuerySet: the date
    # hierarchy only iterates over the dates, which no single query returns.
    def datetimes(  # type: ignore[override]
        self,
        field_name: str,
        kind: _Kind,
        order: _Order = "ASC",
        tzinfo: datetime.tzinfo | None = None,
    ) -> QuerySet[Access, datetime.datetime] | list[datetime.datetime]:
        if field_name != "created_at" or kind not in _TRUNCATIONS:
            return super().datetimes(field_name, kind, order, tzinfo)
        zone = tzinfo or timezone.get_current_timezone()
        bounds = self.aggregate(first=Min("created_at"), last=Max("created_at"))
        if bounds["first"] is None:
            return []
        found: set[datetime.datetime] = set()
        straddling: list[tuple[datetime.datetime, datetime.datetime, datetime.datetime]] = []
        for hour in self._hours_with_accesses(bounds["first"], bounds["last"]):
            earlier = _truncate(hour, kind, zone)
            later = _truncate(hour + _HOUR - datetime.timedelta(microseconds=1), kind, zone)
            if earlier == later:
                found.add(earlier)
            else:
                straddling.append((hour, earlier, later))
        for hour, earlier, later in straddling:
            found.update(self._sides_with_accesses(hour, earlier, later, found))
        return sorted(found, reverse=order == "DESC")

    def _hours_with_accesses(
        self, first: datetime.datetime, last: datetime.datetime
    ) -> QuerySet[HourlyAccessCountSlot, datetime.datetime]:
        """
        The UTC hours holding accesses from first to last. Every access between
        those two is in the range, so an hour's count is enough.
        """
        first_hour = first.astimezone(datetime.UTC).replace(minute=0, second=0, microsecond=0)
        return (
            HourlyAccessCountSlot.objects.using(self.db)
            .filter(hour__gte=first_hour, hour__lte=last)
            .values("hour")
            .annotate(total=Sum("count"))
            .filter(total__gt=0)
            .values_list("hour", flat=True)
        )

    def _sides_with_accesses(
        self,
        hour: datetime.datetime,
        earlier: datetime.datetime,
        later: datetime.datetime,
        found: set[datetime.datetime],
    ) -> set[datetime.datetime]:
        """
        An hour whose local span crosses a midnight (in zones whose offset is
        not whole hours) counts for the day on each side that holds an access,
        which the created_at index tells, asked only for days not found yet.
        """
        boundary = later.astimezone(datetime.UTC)  # where the later day begins
        sides = {earlier: (hour, boundary), later: (boundary, hour + _HOUR)}
        return {
            unit
            for unit, (start, end) in sides.items()
            if unit not in found and self.filter(created_at__gte=start, created_at__lt=end).exists()
        }


def _truncate(moment: datetime.datetime, kind: str, zone: datetime.tzinfo) -> datetime.datetime:
    """The start of moment's year, month or day in zone, as Django's Trunc gives it."""
    local = moment.astimezone(zone)
    return local.replace(**_TRUNCATIONS[kind], minute=0, second=0, microsecond=0, fold=0)


class AccessChangeList(ChangeList):
    def get_queryset(
        self, request: HttpRequest, exclude_parameters: list[str | None] | None = None
    ) -> QuerySet[Access]:
        """Django's queryset, answering the date hierarchy from the hourly counts where it can."""
        queryset = super().get_queryset(request, exclude_parameters)
        if not self._filters_one_range():
            return queryset
        return HourlyDatesQuerySet(
            model=queryset.model, query=queryset.query.chain(), using=queryset.db
        )

    def _filters_one_range(self) -> bool:
        """Whether the list is narrowed by nothing but one range of created_at."""
        if self.query:  # a search, by address
            return False
        names = set(self.get_filters_params())
        if not names <= _RANGE_PARAMS | _HIERARCHY_PARAMS:
            return False
        return not names & _HIERARCHY_PARAMS or "created_at__year" in names


@admin.register(Access)
class AccessAdmin(admin.ModelAdmin):
    """
    Access records are an audit log: browsable, never added, edited or deleted
    here (which also spares building a confirmation page over millions of rows).
    Every way of narrowing the list has an index behind it: the dates and an
    exact client address. Searching the user agent, or sorting by another
    column, would read the whole table.
    """

    list_display = ["created_at", "client_address", "short_user_agent"]
    list_filter = ["created_at"]
    date_hierarchy = "created_at"
    search_fields = ["client_address"]
    search_help_text = _("An exact client address, such as 203.0.113.7 or 2001:db8::1.")
    sortable_by = ["created_at"]
    ordering = ["-created_at", "-id"]
    list_per_page = 50
    paginator = AccessPaginator
    # The total is shown below the list from the paginator; a second count(*)
    # for "N results (M total)" would scan the whole table.
    show_full_result_count = False

    @admin.display(description=_("user agent"))
    def short_user_agent(self, access: Access) -> str:
        return format_html(
            '<span title="{}">{}</span>', access.user_agent, truncatechars(access.user_agent, 60)
        )

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return AccessChangeList

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Access], search_term: str
    ) -> tuple[QuerySet[Access], bool]:
        """The accesses from one exact address, found by its index; other text finds none."""
        term = search_term.strip()
        if not term:
            return queryset, False
        address = ip_address(term)
        if address is None:
            return queryset.none(), False
        return queryset.filter(client_address=str(address)), False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Access | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Access | None = None) -> bool:
        return False
