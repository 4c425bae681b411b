from cunzhan.commerce import views

app_name = "commerce"
urlpatterns = views.urlpatterns
