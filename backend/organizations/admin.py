from __future__ import annotations

from django.contrib import admin

from .models import Branch, Membership, Organization


class BranchInline(admin.TabularInline):
    model = Branch
    extra = 0
    fields = ("name", "address", "time_zone", "phone", "is_active")


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ("user",)
    fields = ("user", "role", "branch", "is_active")


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "parent", "country", "time_zone", "currency", "is_active")
    list_filter = ("kind", "country", "is_active")
    search_fields = ("name",)
    autocomplete_fields = ("parent",)
    inlines = (BranchInline, MembershipInline)


@admin.register(Branch)
class BranchAdmin(admin.ModelAdmin):
    list_display = ("name", "organization", "address", "time_zone", "is_active")
    list_filter = ("organization", "is_active")
    search_fields = ("name", "address", "organization__name")


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "organization", "branch", "role", "is_active")
    list_filter = ("role", "is_active", "organization")
    search_fields = ("user__phone", "user__first_name", "user__last_name", "organization__name")
    raw_id_fields = ("user",)
    autocomplete_fields = ("organization", "branch")
