from __future__ import annotations

from django.urls import path

from applies import ops_views

urlpatterns = [
    path("metrics", ops_views.metrics, name="metrics"),
    path("sweep/brake/release", ops_views.release_brake, name="release-brake"),
]
