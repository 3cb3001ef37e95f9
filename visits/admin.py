from django.contrib import admin
from django.core.paginator import Paginator
from django.template.defaultfilters import truncatechars
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from visits.models import Access, AccessCount
from visits.request_details import ip_address

admin.site.site_header = _("Visits administration")
admin.site.site_title = _("Visits")
admin.site.index_title = _("Page views and their records")


class AccessPaginator(Paginator):
    """Counts the whole table from the trigger-kept total, not with count(*)."""

    @cached_property
    def count(self) -> int:
        if not self.object_list.query.has_filters():
            return AccessCount.objects.total()
        return super().count


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

    def get_search_results(self, request, queryset, search_term):
        """The accesses from one exact address, found by its index; other text finds none."""
        term = search_term.strip()
        if not term:
            return queryset, False
        address = ip_address(term)
        if address is None:
            return queryset.none(), False
        return queryset.filter(client_address=str(address)), False

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
