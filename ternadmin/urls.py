from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    # Only log in and out: accounts are made with ``create_user``, and no mail is configured
    # for Django's password-reset flow.
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", include("applies.ops_urls")),
    path("", include("applies.urls")),
]
