"""The reading pages as plain HTTP (no browser needed): the htmx fragments, the language, and
bad input answered with a clear error and nothing changed."""

from __future__ import annotations

import re

from tests.backend.conftest import BackendStack
from tests.backend.test_articles import newest_first, reader
from tests.ui.test_reading import unread_ids

HTMX = {"HX-Request": "true"}


async def test_the_next_page_comes_as_a_fragment_for_htmx_and_as_a_page_without(
    stack: BackendStack,
) -> None:
    alice = await reader(stack, {None: 1}, articles=35)
    page = await alice.browser.http.get("/")
    assert page.status_code == 200
    (more,) = re.findall(r'hx-get="([^"]+)"[^>]*hx-trigger="revealed"', page.text)
    (following,) = re.findall(r'href="([^"]+)" rel="next"', page.text)
    assert more.replace("&amp;", "&") == following.replace("&amp;", "&") + "&part=items"
    fragment = await alice.browser.http.get(more.replace("&amp;", "&"), headers=HTMX)
    assert fragment.status_code == 200
    assert "<html" not in fragment.text
    assert fragment.text.count('class="item"') == 5
    assert "You have reached the end of this list." in fragment.text
    plain = await alice.browser.http.get(more.replace("&amp;", "&"))
    assert "<html" in plain.text
    assert plain.text.count('class="item"') == 5


async def test_pages_speak_japanese_to_a_japanese_browser(stack: BackendStack) -> None:
    alice = await reader(stack, {None: 1}, articles=1)
    page = await alice.browser.http.get("/", headers={"Accept-Language": "ja"})
    assert "<h1>未読</h1>" in page.text
    assert "既読にする" in page.text


async def test_an_htmx_action_answers_the_new_button_only(stack: BackendStack) -> None:
    alice = await reader(stack, {None: 1}, articles=1)
    (article,) = newest_first(stack, "a.feed_id = %s", (alice.feeds[0],))
    answer = await alice.browser.call(
        "POST", f"/articles/{article}/star", headers=HTMX, data={"next": "/"}
    )
    assert answer.status_code == 200
    assert answer.text.strip().startswith("<form")
    assert f'action="/articles/{article}/unstar"' in answer.text
    assert 'data-starred="true"' in answer.text


async def test_bad_input_is_refused_with_a_clear_message_and_nothing_changes(
    stack: BackendStack,
) -> None:
    alice = await reader(stack, {None: 1}, articles=3)
    http = alice.browser.http
    bad_cursor = await http.get("/", params={"cursor": "nonsense"})
    assert bad_cursor.status_code == 422
    assert "The cursor is not valid" in bad_cursor.text
    for form in (
        {"scope": "all", "older": "a-year"},
        {"scope": "feed", "feed_id": "x"},
        {"scope": "galaxy"},
        {"scope": "all", "upto": "yesterday"},
    ):
        refused = await alice.browser.call("POST", "/mark-all-read", data=form)
        assert refused.status_code == 422, form
        assert "<h1>" in refused.text
    assert len(unread_ids(stack, alice)) == 3
    missing = await alice.browser.call("POST", "/articles/999999999/read", data={"next": "/"})
    assert missing.status_code == 404
    assert len(unread_ids(stack, alice)) == 3


async def test_an_article_waiting_for_its_full_text_says_so(stack: BackendStack) -> None:
    alice = await reader(stack, {None: 1}, articles=1)
    (article,) = newest_first(stack, "a.feed_id = %s", (alice.feeds[0],))
    stack.app(
        "INSERT INTO article_contents (article_id, status) VALUES (%s, 'pending')", (article,)
    )
    page = await alice.browser.http.get(f"/articles/{article}")
    assert page.status_code == 200
    assert "The full text is being fetched" in page.text
    assert "No summary yet: it is written once the full text is in." in page.text
    assert "Text <b>of</b>" in page.text  # the feed's content meanwhile


async def test_an_article_opened_from_here_is_read_without_javascript(stack: BackendStack) -> None:
    alice = await reader(stack, {None: 1}, articles=3)
    first, second, third = newest_first(stack, "a.feed_id = %s", (alice.feeds[0],))
    http = alice.browser.http
    opened = await http.get(f"/articles/{first}", headers={"Sec-Fetch-Site": "same-origin"})
    typed = await http.get(f"/articles/{second}", headers={"Sec-Fetch-Site": "none"})
    # A page of another site that links here does not mark anything by itself.
    linked = await http.get(f"/articles/{third}", headers={"Sec-Fetch-Site": "cross-site"})
    assert [opened.status_code, typed.status_code, linked.status_code] == [200, 200, 200]
    # Back on the page from itself (its own "Mark unread" or a reload) keeps what was chosen.
    await alice.browser.call("POST", f"/articles/{first}/unread", data={"next": "/"})
    again = await http.get(
        f"/articles/{first}",
        headers={"Sec-Fetch-Site": "same-origin", "Referer": f"{stack.edge_url}/articles/{first}"},
    )
    assert 'data-opened-unread="true"' in again.text
    await alice.browser.call("POST", f"/articles/{first}/read", data={"next": "/"})
    assert 'data-opened-unread="true"' not in opened.text
    assert 'data-opened-unread="true"' in linked.text
    assert unread_ids(stack, alice) == [third]


async def test_a_wrong_address_or_query_is_a_clear_page_not_an_error(stack: BackendStack) -> None:
    alice = await reader(stack, {None: 1}, articles=1)
    http = alice.browser.http
    wrong_path = await http.get("/subscriptions/abc")
    wrong_query = await http.get("/stats", params={"days": "x" * 20})
    assert wrong_path.status_code == 404
    assert wrong_query.status_code == 422
    for page in (wrong_path, wrong_query):
        assert page.headers["content-type"].startswith("text/html")
        assert "Traceback" not in page.text


async def test_a_browser_that_does_not_say_where_it_came_from_marks_only_from_here(
    stack: BackendStack,
) -> None:
    alice = await reader(stack, {None: 1}, articles=2)
    first, second = newest_first(stack, "a.feed_id = %s", (alice.feeds[0],))
    http = alice.browser.http
    await http.get(f"/articles/{first}", headers={"Referer": "https://elsewhere.example/x"})
    await http.get(f"/articles/{second}", headers={"Referer": f"{stack.edge_url}/"})
    assert unread_ids(stack, alice) == [first]
