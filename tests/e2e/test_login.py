from __future__ import annotations

from cunzhan.accounts.roles import Role


def test_login_shows_the_home_of_the_role_and_switches_language(page, login, make_user, regions):
    make_user(Role.COUNTY_MANAGER, regions=["520204"], username="mgr")
    page.goto("/login/")
    page.fill("#id_username", "mgr")
    page.fill("#id_password", "wrong-password")
    page.click("button[type=submit]")
    assert page.locator(".errorlist").is_visible()

    login("mgr")
    assert "水城区" in page.inner_text("main")
    assert "县级运营经理" in page.inner_text("main h1")

    with page.expect_navigation():  # the switch submits its form on change
        page.select_option("select[name=language]", "en")
    assert page.locator("html").get_attribute("lang") == "en"
