"""Dashboard and overlay pages, and signing in and out."""

from django.contrib.auth import views as auth_views
from django.urls import path

from dashboard import views

app_name = "dashboard"

urlpatterns = [
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="dashboard/login.html", redirect_authenticated_user=True
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("graphics/", views.graphic_list_page, name="graphic-list"),
    path("graphics/<int:graphic_id>/edit/", views.graphic_editor_page, name="graphic-editor"),
    path("results/", views.results_page, name="results"),
    path("overlay/<int:graphic_id>/", views.overlay_page, name="overlay"),
]
