"""sanitize_html, plain_text, clean_text, strip_invisible, truncate_text, limit_nesting."""

# Fixtures are whole documents and tables of HTML: long lines are the clearest form.
# ruff: noqa: E501

from __future__ import annotations

import threading

import pytest
import regex
from selectolax.lexbor import LexborHTMLParser

from alt.feeds.sanitize import (
    MAX_CONTENT_BYTES,
    MAX_NESTING,
    clean_text,
    limit_nesting,
    plain_text,
    sanitize_html,
    sanitized_text,
    strip_invisible,
    truncate_text,
)
from tests.feeds.support import assert_inert

BASE = "https://blog.example/posts/42.html"
LINK_ATTRS = 'target="_blank" rel="noopener noreferrer nofollow"'


# PAR-08, PAR-11: an allow-list: script, frames, forms, SVG and style attributes go.
@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("<p>para</p>", "<p>para</p>"),
        ('<a href="/x">x</a>', f'<a href="https://blog.example/x" {LINK_ATTRS}>x</a>'),
        ('<a href="y#z">y</a>', f'<a href="https://blog.example/posts/y#z" {LINK_ATTRS}>y</a>'),
        ('<a href="mailto:me@blog.example">m</a>', f'<a href="mailto:me@blog.example" {LINK_ATTRS}>m</a>'),
        ('<a href="https://x.example/" target="_self" rel="opener">x</a>',
         f'<a href="https://x.example/" {LINK_ATTRS}>x</a>'),
        ('<img src="a.png" alt="A" width="10" height="x" onerror="e()">',
         '<img src="https://blog.example/posts/a.png" alt="A" width="10">'),
        ('<img src="data:image/png;base64,AAAA">', "<img>"),
        ("<ul><li>a</li></ul><ol start=\"3\"><li>b</li></ol>", '<ul><li>a</li></ul><ol start="3"><li>b</li></ol>'),
        ("<h2>h</h2><pre><code>c &lt; d</code></pre><blockquote cite=\"/src\">q</blockquote>",
         '<h2>h</h2><pre><code>c &lt; d</code></pre><blockquote cite="https://blog.example/src">q</blockquote>'),
        ("<table><tr><td colspan=\"2\" style=\"color:red\">t</td></tr></table>",
         '<table><tbody><tr><td colspan="2">t</td></tr></tbody></table>'),
        ("<figure><img src=\"https://i.example/a.jpg\"><figcaption>c</figcaption></figure>",
         '<figure><img src="https://i.example/a.jpg"><figcaption>c</figcaption></figure>'),
        ('<p class="x" id="y" style="position:fixed" title="t" dir="rtl">p</p>', '<p title="t" dir="rtl">p</p>'),
        ("<script>alert(1)</script><style>p{}</style><template><b>t</b></template>ok", "ok"),
        ("<iframe src=\"https://www.youtube.com/embed/x\"></iframe>after", "after"),
        ("<form action=\"/x\"><input name=p><button formaction=\"/y\">Go</button></form>", "Go"),
        ("<base href=\"https://evil.example/\"><meta http-equiv=refresh><link rel=stylesheet>x", "x"),
        ("<svg><a href=\"https://x.example/\">s</a></svg><math><mi>m</mi></math>", ""),
        ("<!-- comment --><p>c</p>", "<p>c</p>"),
        ("<video src=\"/v.mp4\" poster=\"javascript:x\" autoplay controls></video>",
         '<video src="https://blog.example/v.mp4" controls=""></video>'),
    ],
)  # fmt: skip
def test_allowlist(html: str, expected: str) -> None:
    result = sanitize_html(html, BASE)
    assert result == expected
    assert_inert(result)


def test_relative_urls_without_a_base_are_dropped() -> None:
    # (ammonia puts rel first when the filter dropped the href; the order is deterministic)
    dropped = '<a rel="noopener noreferrer nofollow" target="_blank">x</a>'
    assert sanitize_html('<a href="/x">x</a><img src="y.png">', None) == dropped + "<img>"
    assert sanitize_html('<a href="/x">x</a>', "javascript:alert(1)//") == dropped


# PAR-09: javascript:, data:, file: and other hrefs never survive.
@pytest.mark.parametrize(
    "href",
    [
        "javascript:alert(1)", "JaVaScRiPt:alert(1)", "java\tscript:alert(1)", "java\nscript:x",
        "\x01 javascript:alert(1)", " javascript:alert(1)", "vbscript:x", "data:text/html,x",
        "file:///etc/passwd", "jar:x", "//evil.example\\@x", "https://user:pw@evil.example/",
    ],
)  # fmt: skip
def test_hostile_hrefs(href: str) -> None:
    result = sanitize_html(f'<a href="{href}">x</a>', BASE)
    assert_inert(result)
    assert "javascript" not in result.lower()
    assert "user:pw" not in result


def test_character_references_to_controls_do_not_survive() -> None:
    result = sanitize_html("<p>a&#x1b;[31mb&#0;c&#x7;</p>", BASE)
    assert result == "<p>ab\ufffdc</p>"


def test_deep_nesting_reaches_the_parsers_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the nesting cap nh3 takes ~15 s and lexbor ~11 s on this input (their time is
    measured by `bench.sanitize`): neither may see more than MAX_NESTING open elements."""
    from alt.feeds import sanitize

    parsed: list[str] = []
    clean = sanitize._cleaner.clean

    class Cleaner:
        def clean(self, html: str) -> str:
            parsed.append(html)
            return clean(html)

    def parser(html: str) -> LexborHTMLParser:
        parsed.append(html)
        return LexborHTMLParser(html)

    monkeypatch.setattr(sanitize, "_cleaner", Cleaner())
    monkeypatch.setattr(sanitize, "LexborHTMLParser", parser)
    deep = "<div>" * 100_000 + "x" + "</div>" * 100_000
    result = sanitize_html(deep, BASE)
    text = plain_text(deep)
    assert result.count("<div>") <= MAX_NESTING
    assert text == "x"
    assert len(parsed) >= 2  # nh3 for the HTML, lexbor for the text
    assert all(html.count("<div>") <= MAX_NESTING for html in parsed)


@pytest.mark.parametrize("tag", ["div", "span", "b", "ul", "blockquote", "table", "a", "li", "p"])
def test_limit_nesting_caps_any_element(tag: str) -> None:
    deep = f"<{tag}>" * 5000 + "x"
    limited = limit_nesting(deep)
    assert limited.count(f"<{tag}>") <= 5000
    assert "x" in sanitize_html(limited, BASE)
    assert limit_nesting("<p>short</p>") == "<p>short</p>"


def test_output_is_capped_at_512_kib() -> None:
    html = "<p>" + ("<b>bold</b> text " * 60_000) + "</p>"
    result = sanitize_html(html, BASE)
    assert len(result.encode()) <= MAX_CONTENT_BYTES
    assert result.startswith("<p><b>bold</b>")
    assert_inert(result)


def test_sanitising_is_idempotent() -> None:
    html = (
        '<p>a <a href="/x">b</a> <img src="i.png" alt="x>y"> &amp; &lt;tag&gt; '
        "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>"
    )
    once = sanitize_html(html, BASE)
    assert sanitize_html(once, BASE) == once


def test_plain_text() -> None:
    html = (
        "<h1>Title</h1><p>One\n<b>two</b>&nbsp;three</p><script>evil()</script>"
        "<ul><li>a<li>b</ul><div hidden>hidden</div><p style='display: none'>gone</p>"
        "<p style='font-size:0'>tiny</p><p>x<br>y</p><table><tr><td>1<td>2</table>"
        "<!-- comment --><template>tpl</template><noscript>ns</noscript>"
    )
    assert plain_text(html) == "Title\nOne two three\na\nb\nx\ny\n1 2"
    assert plain_text("a < b & c") == "a < b & c"
    assert plain_text("") == ""


def test_sanitized_text_matches_plain_text_on_sanitised_html() -> None:
    html = sanitize_html(
        '<h2>H</h2><p>a <a href="/x">link</a> &amp; &lt;b&gt;</p><img alt="a>b" src="/i">'
        "<ul><li>one</li><li>two</li></ul><table><tr><th>1</th><td>2</td></tr></table>",
        BASE,
    )
    assert sanitized_text(html) == plain_text(html) == "H\na link & <b>\none\ntwo\n1 2"


def test_clean_text() -> None:
    assert clean_text("a\x00b\x07c\x1b[31md\x1b[0m\x7f\x85e\u200bf") == "abcd e\u200bf"
    assert clean_text("  line\r\nbreaks\u2028and\ttabs  ") == "line breaks and tabs"
    assert (
        clean_text("keep\n\n\n\nparagraphs\n  here ", multiline=True) == "keep\n\nparagraphs\nhere"
    )
    assert clean_text("\ufffe\uffff\U0001fffe\ufdd0 nonchars \ufeff") == "nonchars"
    assert clean_text("lone \ud800 surrogate") == "lone surrogate"
    assert clean_text("osc \x1b]0;title\x07 done") == "osc done"


def test_strip_invisible() -> None:
    text = "pay\u200bpal \u202eevil\u202c \U000e0049\U000e0047 soft\u00adhyphen 👨\u200d👩"
    assert strip_invisible(text) == "paypal evil  softhyphen 👨👩"
    assert strip_invisible("plain ascii") == "plain ascii"


def test_truncate_text_on_grapheme_boundaries() -> None:
    family = "👨\u200d👩\u200d👧\u200d👦"
    cut = truncate_text(family * 400, 1000)
    assert len(cut) <= 1000
    assert cut.endswith("…")
    assert regex.fullmatch(rf"(?:{family})+…", cut)
    zalgo = "Z" + "\u0336" * 3000
    assert len(truncate_text(zalgo, 1000)) == 1000  # one grapheme longer than the limit
    assert truncate_text("short", 10) == "short"
    assert truncate_text("word " * 300, 20) == "word word word word…"


def test_the_base_url_is_per_call_even_across_threads() -> None:
    # The pre-processor parses in worker threads; each call must resolve against its own base.
    failures: list[str] = []

    def work(number: int) -> None:
        for _ in range(200):
            out = sanitize_html(f'<a href="/x{number}">x</a>', f"https://h{number}.example/")
            if f'href="https://h{number}.example/x{number}"' not in out:
                failures.append(out)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
