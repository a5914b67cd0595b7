"""The admin page against a real hub (system auth, PAM, real Unix accounts): permissions,
adding users whose passwords then work with PAM, password resets, deleting, zh_CN."""

from __future__ import annotations

import html
import pwd
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from tests.admin.conftest import NewUser, random_name
from tests.conftest import UnixUser
from tests.hubclient import HubClient
from tests.hubprocess import HubProcess

pytestmark = [pytest.mark.root]
PASSWORDS = re.compile(r'<td class="name">([^<]+)</td><td><code class="password">([^<]+)</code>')
ADMIN_POSTS = [
    ("/hub/admin/users", {"names": "cyt-nobody", "password": "whatever-123"}),
    ("/hub/admin/servers", {"action": "stop_all", "confirm": "1"}),
    ("/hub/admin/users/{admin}/stop", {}),
    ("/hub/admin/users/{admin}/start", {}),
    ("/hub/admin/users/{admin}/edit", {"admin": ""}),
    ("/hub/admin/users/{admin}/password", {"mode": "set", "password": "taken-over-1"}),
    ("/hub/admin/users/{admin}/delete", {"confirm": "1"}),
]


async def logged_in(hub: HubProcess, user: UnixUser, next_url: str = "/hub/home") -> HubClient:
    client = HubClient(hub.url)
    response = await client.login(user.name, user.password, next_url)
    assert response.status == 302, f"login of {user.name} failed"
    return client


@pytest_asyncio.fixture
async def admin(admin_hub: HubProcess, admin_user: UnixUser) -> AsyncIterator[HubClient]:
    client = await logged_in(admin_hub, admin_user, "/hub/admin")
    yield client
    await client.close()


async def test_non_admin_gets_403_from_every_admin_action(
    admin_hub: HubProcess, admin_user: UnixUser, new_unix_user: NewUser
) -> None:
    plain = new_unix_user()
    async with await logged_in(admin_hub, plain) as client:
        async with client.http.get(admin_hub.url + "/hub/admin") as r:
            assert r.status == 403
        async with client.http.get(f"{admin_hub.url}/hub/admin/users/{admin_user.name}") as r:
            assert r.status == 403
        for path, data in ADMIN_POSTS:
            response = await client.post_form(path.format(admin=admin_user.name), data)
            assert response.status == 403, path
    assert pwd.getpwnam(admin_user.name)  # nothing happened to the admin
    assert "cyt-nobody" not in {p.pw_name for p in pwd.getpwall()}


async def test_admin_post_without_token_is_refused(admin: HubClient, admin_hub: HubProcess) -> None:
    async with admin.http.post(
        admin_hub.url + "/hub/admin/users", data={"names": "cyt-notoken"}, allow_redirects=False
    ) as r:
        assert r.status == 403
    assert "cyt-notoken" not in {p.pw_name for p in pwd.getpwall()}


async def test_added_user_gets_a_unix_account_and_logs_in_with_pam(
    admin: HubClient, admin_hub: HubProcess, made_names: list[str]
) -> None:
    name = random_name()
    made_names.append(name)
    response = await admin.post_form(
        "/hub/admin/users", {"names": name, "password": "Chosen-pw-4711"}, "/hub/admin"
    )
    assert response.status == 302
    entry = pwd.getpwnam(name)
    assert entry.pw_dir
    assert pwd.getpwnam(name).pw_uid >= 1000
    async with HubClient(admin_hub.url) as person:
        assert (await person.login(name, "Wrong-pw-0000", "/hub/home")).status == 403
        assert (await person.login(name, "Chosen-pw-4711", "/hub/home")).status == 302
    async with admin.http.get(admin_hub.url + f"/hub/admin?q={name}") as r:
        assert name in await r.text()


async def test_generated_passwords_are_shown_once_and_work(
    admin: HubClient, admin_hub: HubProcess, made_names: list[str]
) -> None:
    names = [random_name(), random_name()]
    made_names.extend(names)
    token = await admin.form_token("/hub/admin")
    async with admin.http.post(
        admin_hub.url + "/hub/admin/users",
        data={"names": "\n".join(names), "_xsrf": token},
    ) as r:
        assert r.status == 200
        shown = dict(PASSWORDS.findall(await r.text()))
    assert sorted(shown) == sorted(names)
    async with HubClient(admin_hub.url) as person:
        assert (await person.login(names[1], shown[names[1]], "/hub/home")).status == 302
    async with admin.http.get(admin_hub.url + "/hub/admin") as r:
        assert shown[names[0]] not in await r.text()


async def test_reset_password_from_the_admin_page_works_with_pam(
    admin: HubClient, admin_hub: HubProcess, new_unix_user: NewUser
) -> None:
    person = new_unix_user()
    async with await logged_in(admin_hub, person):
        pass  # the hub now knows the user
    response = await admin.post_form(
        f"/hub/admin/users/{person.name}/password",
        {"mode": "set", "password": "Reset-pw-2024"},
        "/hub/admin",
    )
    assert response.status == 200
    async with HubClient(admin_hub.url) as client:
        assert (await client.login(person.name, person.password, "/hub/home")).status == 403
        assert (await client.login(person.name, "Reset-pw-2024", "/hub/home")).status == 302


async def test_user_changes_own_password(admin_hub: HubProcess, new_unix_user: NewUser) -> None:
    person = new_unix_user()
    async with await logged_in(admin_hub, person) as client:
        bad = await client.post_form(
            "/hub/account/password",
            {
                "old_password": "nope-nope",
                "new_password": "Mine-pw-9876",
                "repeat_password": "Mine-pw-9876",
            },
        )
        assert bad.status == 403
        good = await client.post_form(
            "/hub/account/password",
            {
                "old_password": person.password,
                "new_password": "Mine-pw-9876",
                "repeat_password": "Mine-pw-9876",
            },
        )
        assert good.status == 200
    async with HubClient(admin_hub.url) as again:
        assert (await again.login(person.name, "Mine-pw-9876", "/hub/home")).status == 302


async def test_delete_needs_confirmation_and_keeps_the_unix_account_unless_ticked(
    admin: HubClient, admin_hub: HubProcess, new_unix_user: NewUser
) -> None:
    kept, removed = new_unix_user(), new_unix_user()
    await admin.post_form(
        "/hub/admin/users", {"names": f"{kept.name} {removed.name}"}, "/hub/admin"
    )
    unconfirmed = await admin.post_form(f"/hub/admin/users/{kept.name}/delete", {}, "/hub/admin")
    assert unconfirmed.status == 400
    done = await admin.post_form(
        f"/hub/admin/users/{kept.name}/delete", {"confirm": "1"}, "/hub/admin"
    )
    assert done.status == 302
    assert pwd.getpwnam(kept.name)
    home = pwd.getpwnam(removed.name).pw_dir
    await admin.post_form(
        f"/hub/admin/users/{removed.name}/delete",
        {"confirm": "1", "remove_unix_account": "1"},
        "/hub/admin",
    )
    assert removed.name not in {p.pw_name for p in pwd.getpwall()}
    assert not Path(home).exists()
    async with admin.http.get(admin_hub.url + f"/hub/admin/users/{kept.name}") as r:
        assert r.status == 404


async def test_admin_page_in_chinese(admin: HubClient, admin_hub: HubProcess) -> None:
    async with admin.http.get(
        admin_hub.url + "/hub/admin", headers={"Accept-Language": "zh-CN,zh;q=0.9"}
    ) as r:
        text = await r.text()
    assert '<html lang="zh-CN">' in text
    for phrase in ("添加用户", "按名称搜索", "空闲 15 分钟以上", "最近活动", "全部停止", "内存"):
        assert phrase in text
    assert "Add users" not in text


async def test_admin_without_admin_access_manages_but_cannot_open_a_server(
    admin: HubClient, admin_hub: HubProcess, new_unix_user: NewUser
) -> None:
    person = new_unix_user()
    async with HubClient(admin_hub.url) as client:
        assert (await client.login(person.name, person.password, "")).status == 302
        await client.wait_until_ready(person.name)
        async with client.http.get(f"{admin_hub.url}/user/{person.name}/api/status") as r:
            assert r.status == 200  # the owner may
    async with admin.http.get(
        f"{admin_hub.url}/user/{person.name}/api/status", allow_redirects=False
    ) as r:
        assert r.status == 403
    async with admin.http.get(f"{admin_hub.url}/hub/admin?running=1&q={person.name}") as r:
        text = await r.text()
    row = re.search(rf'<tr data-user="{person.name}" data-state="running">.*?</tr>', text, re.S)
    assert row is not None
    assert re.search(r'class="memory">\d+\.\d MiB<', row.group(0))
    assert f'href="/user/{person.name}/"' not in row.group(0)  # no Open without admin_access
    unconfirmed = await admin.post_form("/hub/admin/servers", {"action": "stop_all"}, "/hub/admin")
    assert unconfirmed.status == 400
    stopped = await admin.post_form(
        "/hub/admin/servers", {"action": "stop_all", "confirm": "1"}, "/hub/admin"
    )
    assert stopped.status == 302
    async with admin.http.get(f"{admin_hub.url}/hub/admin?q={person.name}") as r:
        assert f'<tr data-user="{person.name}" data-state="stopped">' in await r.text()


async def test_errors_from_the_hub_are_shown_in_chinese(
    admin: HubClient, admin_hub: HubProcess, admin_user: UnixUser
) -> None:
    """Errors raised below the web layer (hub/users.py, auth/) carry a translatable template."""
    async with admin.http.get(admin_hub.url + "/hub/language?lang=zh_CN&next=/hub/admin") as r:
        assert r.status == 200
    taken = await admin.post_form("/hub/admin/users", {"names": admin_user.name}, "/hub/admin")
    assert taken.status == 409
    text = html.unescape(await taken.text())
    assert f"用户 '{admin_user.name}' 已存在" in text
    assert "already exists" not in text
    bad = await admin.post_form("/hub/admin/users", {"names": "9lives"}, "/hub/admin")
    assert bad.status == 400
    text = html.unescape(await bad.text())
    assert "'9lives' 不是有效的用户名" in text
    assert "not a valid user name" not in text
