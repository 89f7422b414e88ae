"""HTML sanitising and plain-text helpers for everything that comes from a feed or a page.

* ``sanitize_html`` is an allowlist (nh3, the Python binding of the Rust sanitizer ammonia, which
  parses like a browser: html5ever). Anything not listed is dropped; executable containers are
  dropped with their content; URL attributes are resolved against the base and kept only when
  they are http(s) (``mailto:`` too for links); every link opens in a new tab with
  ``rel="noopener noreferrer nofollow"``.
* ``plain_text`` turns HTML into the text a person reads (selectolax/lexbor): hidden elements,
  scripts, styles and templates are dropped, blocks become line breaks.
* ``clean_text`` makes any string safe to store and log: no NUL, no C0/C1 controls except
  TAB/LF/CR, no terminal escape sequences, no noncharacters or lone surrogates; whitespace
  normalised.
* ``strip_invisible`` removes format characters (zero-width, bidi controls, Unicode TAG
  characters, soft hyphens) from text meant for the LLM and the search index.

HTML parsers spend quadratic time on very deep nesting (5,000 nested ``div`` take 40 ms in nh3,
100,000 take 15 s), so every HTML entry point first caps the nesting depth (``limit_nesting``).
"""

from __future__ import annotations

import html as html_module
import re
from contextvars import ContextVar

import nh3
import regex
from selectolax.lexbor import LexborHTMLParser, LexborNode

from alt.feeds.urls import safe_url, scheme_of

MAX_CONTENT_BYTES = 512 * 1024
MAX_NESTING = 256

ALLOWED_TAGS = frozenset(
    {
        "a", "abbr", "acronym", "address", "article", "aside", "audio", "b", "bdi", "bdo",
        "big", "blockquote", "br", "caption", "center", "cite", "code", "col", "colgroup",
        "dd", "del", "details", "dfn", "div", "dl", "dt", "em", "figcaption", "figure",
        "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hgroup", "hr", "i", "img",
        "ins", "kbd", "li", "mark", "ol", "p", "pre", "q", "rp", "rt", "ruby", "s", "samp",
        "section", "small", "source", "span", "strike", "strong", "sub", "summary", "sup",
        "table", "tbody", "td", "tfoot", "th", "thead", "time", "tr", "tt", "u", "ul", "var",
        "video", "wbr",
    }
)  # fmt: skip
# Dropped together with everything inside them (the rest of the unknown tags are unwrapped:
# their text stays, the tag goes).
DROPPED_WITH_CONTENT = frozenset(
    {
        "script", "style", "template", "noscript", "iframe", "frame", "frameset", "object",
        "embed", "applet", "svg", "math", "textarea", "select", "xmp", "noembed", "noframes",
        "title", "head",
    }
)  # fmt: skip
ALLOWED_ATTRIBUTES: dict[str, set[str]] = {
    "*": {"title", "lang", "dir"},
    "a": {"href", "hreflang"},
    "abbr": {"title"},
    "audio": {"src", "controls", "loop", "muted", "preload"},
    "blockquote": {"cite"},
    "col": {"span"},
    "colgroup": {"span"},
    "del": {"cite", "datetime"},
    "details": {"open"},
    "img": {"src", "alt", "width", "height"},
    "ins": {"cite", "datetime"},
    "ol": {"start", "reversed", "type"},
    "li": {"value"},
    "q": {"cite"},
    "source": {"src", "type", "media"},
    "td": {"colspan", "rowspan", "headers"},
    "th": {"colspan", "rowspan", "headers", "scope", "abbr"},
    "time": {"datetime"},
    "video": {"src", "poster", "controls", "loop", "muted", "preload", "width", "height"},
}
LINK_REL = "noopener noreferrer nofollow"
_URL_ATTRIBUTES = frozenset({"href", "src", "cite", "poster"})
_NUMERIC_ATTRIBUTES = frozenset({"width", "height", "span", "colspan", "rowspan", "start", "value"})

_base: ContextVar[str | None] = ContextVar("sanitize_base", default=None)


def _attribute_filter(tag: str, attribute: str, value: str) -> str | None:
    if attribute in _URL_ATTRIBUTES:
        resolved = safe_url(value, _base.get())
        if resolved is not None:
            return resolved
        if attribute == "href" and scheme_of(value) == "mailto":
            return value.strip()
        return None
    if attribute in _NUMERIC_ATTRIBUTES:
        value = value.strip()
        return value if value.isdigit() and len(value) <= 5 else None
    return value


_cleaner = nh3.Cleaner(
    tags=set(ALLOWED_TAGS),
    clean_content_tags=set(DROPPED_WITH_CONTENT),
    attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
    attribute_filter=_attribute_filter,
    strip_comments=True,
    link_rel=LINK_REL,
    url_schemes={"http", "https", "mailto"},
    set_tag_attribute_values={"a": {"target": "_blank"}},
)

# --- nesting ----------------------------------------------------------------------------------

_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9:-]*)[^>]*>")
# Void elements never nest; these close themselves when a sibling starts, so they cannot nest
# deeply either (a deep list needs a deep run of <ul>, which is counted).
_NOT_NESTING = frozenset(
    {
        "area", "base", "br", "col", "embed", "hr", "img", "input", "keygen", "link", "meta",
        "param", "source", "track", "wbr", "p", "li", "dt", "dd", "tr", "td", "th", "tbody",
        "thead", "tfoot", "option", "optgroup", "rb", "rt", "rtc", "rp", "colgroup", "caption",
    }
)  # fmt: skip


def limit_nesting(html: str, max_depth: int = MAX_NESTING) -> str:
    """``html`` with start tags past ``max_depth`` open elements (and their end tags) removed.

    An approximation of the tree an HTML parser would build, good enough to keep parsers linear;
    the text is kept. The result still goes through a real HTML parser (and the sanitizer), so
    removing tags here cannot create markup that survives.
    """
    if html.count("<") <= max_depth:
        return html
    depth = 0
    dropped: dict[str, int] = {}
    pieces: list[str] = []
    position = 0
    for match in _TAG.finditer(html):
        name = match.group(2).lower()
        if name in _NOT_NESTING:
            continue
        drop = False
        if match.group(1):  # an end tag
            if dropped.get(name):
                dropped[name] -= 1
                drop = True
            elif depth:
                depth -= 1
        elif depth >= max_depth:
            dropped[name] = dropped.get(name, 0) + 1
            drop = True
        else:
            depth += 1
        if drop:
            pieces.append(html[position : match.start()])
            position = match.end()
    if not pieces:
        return html
    pieces.append(html[position:])
    return "".join(pieces)


# --- sanitising -------------------------------------------------------------------------------


def sanitize_html(html: str, base_url: str | None) -> str:
    """``html`` reduced to the allowlist, with URLs absolute (against ``base_url``) and http(s).

    Relative URLs are dropped when there is no http(s) base. The result is at most 512 KiB of
    UTF-8 (cut at a tag boundary and re-sanitised when longer) and contains no NUL or C0 control
    other than TAB/LF/CR, and no lone surrogate.
    """
    if not html:
        return ""
    if not html.isascii() and _SURROGATE.search(html):
        html = _SURROGATE.sub("", html)  # not characters: nh3 cannot even take them in
    token = _base.set(base_url)
    try:
        # Controls are stripped from the output: character references (&#x1b;) decode to them.
        cleaned = _strip_controls(_cleaner.clean(limit_nesting(html)))
        while len(cleaned.encode("utf-8")) > MAX_CONTENT_BYTES:
            cleaned = _strip_controls(_cleaner.clean(_cut_html(cleaned, MAX_CONTENT_BYTES - 4096)))
    finally:
        _base.reset(token)
    return cleaned.strip()


def _cut_html(html: str, max_bytes: int) -> str:
    cut = html.encode("utf-8")[:max_bytes].decode("utf-8", errors="ignore")
    last_open, last_close = cut.rfind("<"), cut.rfind(">")
    if last_open > last_close:
        cut = cut[:last_open]
    last_amp = cut.rfind("&")
    if last_amp > cut.rfind(";"):
        cut = cut[:last_amp]
    return cut


# --- plain text -------------------------------------------------------------------------------

_REMOVED_FOR_TEXT = (
    "script, style, template, noscript, iframe, frame, object, embed, applet, svg, math, "
    "textarea, select, head, title, [hidden], [aria-hidden=true]"
)
_BLOCKS = (
    "address, article, aside, blockquote, details, div, dl, dd, dt, figcaption, figure, footer, "
    "form, h1, h2, h3, h4, h5, h6, header, hr, li, main, nav, ol, p, pre, section, summary, "
    "table, tr, ul, caption"
)
_HIDDEN_STYLE = re.compile(
    r"display\s*:\s*none|visibility\s*:\s*hidden"
    r"|(?:font-size|opacity)\s*:\s*0*(?:\.0*)?(?:[a-z%]+)?\s*(?:;|$|!)",
    re.IGNORECASE,
)


def _drop_hidden(root: LexborNode) -> None:
    for node in root.css(_REMOVED_FOR_TEXT):
        node.decompose()
    for node in root.css("[style]"):
        if _HIDDEN_STYLE.search(node.attributes.get("style") or ""):
            node.decompose()


def visible_html(html: str) -> str:
    """``html`` without what a reader cannot see (hidden elements, scripts, styles, comments):
    what a page says to people, before anything else reads it (an extractor, a model)."""
    tree = LexborHTMLParser(limit_nesting(_strip_controls(html)))
    if tree.body is None:
        return ""
    _drop_hidden(tree.body)
    for node in tree.body.traverse(include_text=False):
        if node.tag == "_comment":
            node.decompose()
    title = tree.css_first("title")
    head = f"<title>{html_module.escape(title.text())}</title>" if title is not None else ""
    metas = "".join(node.html or "" for node in tree.css("head meta"))
    return f"<html><head>{head}{metas}</head>{tree.body.html or ''}</html>"


def plain_text(html: str) -> str:
    """The text a reader sees in ``html``: no markup, hidden parts dropped, blocks on own lines."""
    if not html:
        return ""
    if "<" not in html and "&" not in html:
        return clean_text(html)
    tree = LexborHTMLParser(limit_nesting(_strip_controls(html)))
    body = tree.body
    if body is None:
        return ""
    _drop_hidden(body)
    for node in body.css("br"):
        node.insert_before(_BREAK)
    for node in body.css("td, th"):
        node.insert_after(" ")
    for node in body.css(_BLOCKS):
        node.insert_before(_BREAK)
        node.insert_after(_BREAK)
    return _lines(body.text(deep=True, separator="", strip=False))


# Marks a block boundary while text is collected; source line breaks are just spaces in HTML.
_BREAK = "\x1e"


def _lines(text: str) -> str:
    lines = (" ".join(_strip_controls(segment).split()) for segment in text.split(_BREAK))
    return "\n".join(line for line in lines if line)


# A tag as nh3 serialises it: attribute values always in double quotes, which may hold ">".
# (Written unrolled, [^>"]*(?:"[^"]*"[^>"]*)*, which the regex engine runs a third faster.)
_ATTRIBUTES = r'[^>"]*(?:"[^"]*"[^>"]*)*>'
_SERIALISED_TAG = re.compile(r"</?[a-zA-Z][a-zA-Z0-9]*" + _ATTRIBUTES)
_BLOCK_NAMES = (
    "address|article|aside|blockquote|br|caption|center|details|div|dl|dd|dt|figcaption|figure|"
    "footer|h[1-6]|header|hgroup|hr|li|ol|p|pre|section|summary|table|tr|ul"
)
_SERIALISED_BLOCK_TAG = re.compile(rf"</?(?:{_BLOCK_NAMES})\b" + _ATTRIBUTES)
_SERIALISED_CELL_TAG = re.compile(r"</?t[dh]\b" + _ATTRIBUTES)
# sanitize_html leaves no NUL, and str.split() does not take it for whitespace: it marks block
# boundaries through one whitespace collapse of the whole text.
_LINE_MARK = "\x00"


def sanitized_text(clean_html: str) -> str:
    """The text of HTML that ``sanitize_html`` produced (a fast path for ``plain_text``).

    Only for sanitised markup: it relies on nh3's serialisation (quoted attributes, no comments,
    no script or hidden elements left) and on sanitize_html's (no control characters).
    """
    if not clean_html:
        return ""
    text = clean_html
    if "<" in text:
        text = _SERIALISED_BLOCK_TAG.sub(_LINE_MARK, text)
        text = _SERIALISED_CELL_TAG.sub(" ", text)
        text = _SERIALISED_TAG.sub("", text)
    # nh3 escapes only with named references (&amp; &lt; &gt; &quot; &nbsp;), so unescaping
    # cannot bring a control character back: only whitespace is left to do.
    text = " ".join(html_module.unescape(text).split())
    text = text.replace(" " + _LINE_MARK, _LINE_MARK).replace(_LINE_MARK + " ", _LINE_MARK)
    return "\n".join(filter(None, text.split(_LINE_MARK)))


# --- text -------------------------------------------------------------------------------------

_TERMINAL_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI (colours, cursor moves, clear screen)
    r"|\x1b\][^\x07\x1b]{0,512}(?:\x07|\x1b\\)?"  # OSC (window title, hyperlinks)
    r"|\x1b[@-Z\\-_]"  # other two-character escapes
)
_CONTROLS = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ufeff\ufdd0-\ufdef\ufffe\uffff\ud800-\udfff]"
)
# The lookahead keeps the scan cheap: only astral characters are compared with the list.
_HIGH_NONCHARACTERS = re.compile(
    "(?=[\U0001fffe-\U0010ffff])["
    + "".join(chr(p * 0x10000 + 0xFFFE) + chr(p * 0x10000 + 0xFFFF) for p in range(1, 17))
    + "]"
)
# Anything _strip_controls might change (plus every character from U+1FFFE up, which is rarer
# than it looks); most text has none and is returned as is after one fast scan.
_NEEDS_STRIPPING = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\ufeff\ufdd0-\ufdef\ufffe\uffff\ud800-\udfff\u2028\u2029"
    "\U0001fffe-\U0010ffff]"
)
_SURROGATE = re.compile("[\ud800-\udfff]")
_LINE_BREAKS = re.compile("\r\n|[\r\x85\u2028\u2029]")
# Format characters (Unicode category Cf: zero-width, bidi controls, soft hyphen, TAG
# characters, interlinear annotations) and the invisible Hangul fillers used for spoofing.
_INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
    "\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff9-\ufffb]"
)
_INVISIBLE_ASTRAL = re.compile(
    "[\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0000-\U000e0fff]"
)
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
_GRAPHEME = regex.compile(r"\X")


_ASCII_CONTROLS = bytes([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0D, 0x20), 0x7F])


def _strip_controls(text: str) -> str:
    if text.isascii():
        encoded = text.encode("ascii")
        if len(encoded.translate(None, _ASCII_CONTROLS)) == len(encoded):
            return text  # the common case, checked at C speed
    elif _NEEDS_STRIPPING.search(text) is None:
        return text
    text = _TERMINAL_ESCAPES.sub("", text)
    text = _LINE_BREAKS.sub("\n", text)
    text = _CONTROLS.sub("", text)
    return _HIGH_NONCHARACTERS.sub("", text)


def clean_text(text: str, *, multiline: bool = False) -> str:
    """``text`` safe to store and to log: controls stripped, whitespace normalised.

    Single-line (the default, for titles, names, categories): every run of whitespace, line
    breaks included, becomes one space. ``multiline``: line breaks are kept (at most one empty
    line in a row), other whitespace runs become one space.
    """
    if not text:
        return ""
    return _normalise_whitespace(_strip_controls(text), multiline)


def _normalise_whitespace(text: str, multiline: bool) -> str:
    if not multiline:
        return " ".join(text.split())
    lines: list[str] = []
    for raw_line in text.split("\n"):
        line = " ".join(raw_line.split())
        if line or (lines and lines[-1]):
            lines.append(line)
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


def strip_invisible(text: str) -> str:
    """``text`` without format characters: for LLM input, search tokens and dedupe keys.

    Removes zero-width characters (which split words for search and hide text), bidi
    embedding/override/isolate controls, soft hyphens, variation selectors and the Unicode TAG
    block (U+E0000-E007F, invisible ASCII that models read). Emoji joined with ZWJ fall apart into
    their parts, which is fine for these uses and why display text keeps them.
    """
    if text.isascii():
        return text
    text = _INVISIBLE.sub("", text)
    return _INVISIBLE_ASTRAL.sub("", text) if _ASTRAL.search(text) else text


def truncate_text(text: str, limit: int, ellipsis: str = "…") -> str:
    """``text`` cut to at most ``limit`` characters on a grapheme boundary, ``ellipsis`` added.

    A single grapheme longer than the limit (a letter carrying thousands of combining marks)
    is cut inside, which is the only way to honour the limit.
    """
    if len(text) <= limit:
        return text
    budget = limit - len(ellipsis)
    end = 0
    for match in _GRAPHEME.finditer(text):
        if match.end() > budget:
            break
        end = match.end()
    if end == 0:
        end = budget
    return text[:end].rstrip() + ellipsis
