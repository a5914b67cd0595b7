"""Errors carry a translatable template and its params; the web layer translates them."""

from __future__ import annotations

from courtyard.errors import N_, AuthError, UserExistsError
from courtyard.web.i18n import Translator, translator


def test_message_is_the_template_formatted_with_its_params() -> None:
    exc = UserExistsError(N_("user {name!r} already exists"), params={"name": "ada"})
    assert (exc.message, str(exc), exc.template) == (
        "user 'ada' already exists",
        "user 'ada' already exists",
        "user {name!r} already exists",
    )


def test_a_message_without_params_is_kept_as_given() -> None:
    exc = AuthError("braces {stay} as they are")
    assert exc.message == exc.template == "braces {stay} as they are"


def test_translator_formats_the_translated_template() -> None:
    exc = UserExistsError(N_("user {name!r} already exists"), params={"name": "ada"})
    assert translator("zh_CN").error(exc) == "用户 'ada' 已存在"
    assert translator("en").error(exc) == "user 'ada' already exists"


def test_a_translation_that_does_not_fit_falls_back_to_english() -> None:
    exc = AuthError("hello {name}", params={"name": "ada"})
    broken = Translator("xx", {"hello {name}": "你好 {nom}"})
    assert broken.error(exc) == "hello ada"
    unknown = AuthError("not in any catalog: {n}", params={"n": 3})
    assert translator("zh_CN").error(unknown) == "not in any catalog: 3"
