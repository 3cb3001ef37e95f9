from django.contrib import admin
from django.template.defaultfilters import truncatechars
from django.utils.translation import gettext_lazy as _

from visits.models import Access

admin.site.site_header = _("Visits administration")
admin.site.site_title = _("Visits")


@admin.register(Access)
class AccessAdmin(admin.ModelAdmin):
    """Access records are an audit log: browsable and deletable, never added or edited."""

    list_display = ["created_at", "client_address", "short_user_agent"]
    list_filter = ["created_at"]
    date_hierarchy = "created_at"
    search_fields = ["client_address", "user_agent"]
    ordering = ["-created_at", "-id"]
    list_per_page = 50
    show_full_result_count = False

    @admin.display(description=_("user agent"), ordering="user_agent")
    def short_user_agent(self, access: Access) -> str:
        return truncatechars(access.user_agent, 80)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
