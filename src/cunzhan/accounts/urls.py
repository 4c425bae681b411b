from django.urls import path

from cunzhan.accounts import views

app_name = "accounts"
urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("account/", views.account_page, name="account"),
    path("account/tokens/", views.token_create_page, name="token_create"),
    path("account/tokens/<int:token_id>/revoke/", views.token_revoke_page, name="token_revoke"),
    path("account/password/", views.password_change_page, name="password_change"),
    path("users/", views.user_list_page, name="users"),
    path("users/new/", views.user_create_page, name="user_create"),
    path("users/<int:user_id>/", views.user_detail_page, name="user"),
    path("users/<int:user_id>/edit/", views.user_edit_page, name="user_edit"),
    path("users/<int:user_id>/deactivate/", views.user_deactivate_page, name="user_deactivate"),
    path("users/<int:user_id>/reactivate/", views.user_reactivate_page, name="user_reactivate"),
    path(
        "users/<int:user_id>/reset-password/",
        views.user_password_reset_page,
        name="user_password_reset",
    ),
]
