"""Untrusted XML in, a safe lxml tree out: encoding, entities, DTDs and illegal characters.

The steps, in order:

1. ``decode_document``: bytes -> str. A BOM wins; then the XML declaration, then the HTTP
   charset (but a document that is valid UTF-8 is read as UTF-8 when either one says UTF-8);
   labels follow the WHATWG Encoding Standard (``iso-8859-1`` means windows-1252, UTF-7 and
   other non-web encodings are ignored). Invalid UTF-8 becomes U+FFFD when most of the non-ASCII
   text is valid UTF-8, and windows-1252 when none of it is (a legacy document mislabelled).
   A surrogate encoded like a character (bytes ED A0-BF xx) becomes one U+FFFD.
2. ``prepare_xml``: the DOCTYPE is taken out before any XML parser sees the document, so no DTD
   is ever loaded and no entity is ever expanded by the parser. Entity declarations that are
   external (SYSTEM/PUBLIC), parameter entities, entities that refer to other entities, or
   oversized ones are the XXE/billion-laughs/quadratic-blowup shapes: in ``strict`` mode the
   document is refused, otherwise they are ignored. Short literal entities are substituted by us,
   under a total budget. References to undeclared entities become the HTML character (``&nbsp;``
   is everywhere in feeds) or literal text; a bare ``&`` becomes ``&amp;``. Characters XML 1.0
   forbids (NUL, most C0 controls, U+FFFE/U+FFFF) are removed; character references to
   surrogates (``&#xD800;``), which libxml2 would pass on as bytes that are not UTF-8, become
   U+FFFD.
3. ``parse_xml``: lxml (libxml2) with entity resolution, DTD loading and network access off,
   default (not "huge") size limits, in recover mode so that sloppy feeds still give their
   items.
"""

from __future__ import annotations

import codecs
import re
import threading
from html.entities import html5 as _HTML5_ENTITIES

from lxml import etree

MAX_ENTITY_DECLARATIONS = 64
MAX_ENTITY_VALUE = 1024
MAX_ENTITY_EXPANSION = 1024 * 1024


class XmlSafetyError(ValueError):
    """The document is refused; the message says why in words a person understands."""


# --- encodings --------------------------------------------------------------------------------

# WHATWG encoding names -> Python codecs. Only these are accepted from a label.
_WEB_ENCODINGS = {
    "utf_8": "utf-8", "cp866": "cp866", "iso8859_2": "iso8859-2", "iso8859_3": "iso8859-3",
    "iso8859_4": "iso8859-4", "iso8859_5": "iso8859-5", "iso8859_6": "iso8859-6",
    "iso8859_7": "iso8859-7", "iso8859_8": "iso8859-8", "iso8859_10": "iso8859-10",
    "iso8859_13": "iso8859-13", "iso8859_14": "iso8859-14", "iso8859_15": "iso8859-15",
    "iso8859_16": "iso8859-16", "koi8_r": "koi8-r", "koi8_u": "koi8-u",
    "mac_roman": "mac-roman", "cp874": "cp874", "tis_620": "cp874", "iso8859_11": "cp874",
    "cp1250": "cp1250", "cp1251": "cp1251", "cp1252": "cp1252", "latin_1": "cp1252",
    "ascii": "cp1252", "cp1253": "cp1253", "cp1254": "cp1254", "iso8859_9": "cp1254",
    "cp1255": "cp1255", "cp1256": "cp1256", "cp1257": "cp1257", "cp1258": "cp1258",
    "mac_cyrillic": "mac-cyrillic", "gbk": "gb18030", "gb2312": "gb18030",
    "gb18030": "gb18030", "big5": "big5hkscs", "big5hkscs": "big5hkscs", "cp950": "big5hkscs",
    "euc_jp": "euc-jp", "iso2022_jp": "iso2022-jp", "shift_jis": "cp932", "cp932": "cp932",
    "euc_kr": "cp949", "cp949": "cp949", "utf_16_be": "utf-16-be", "utf_16_le": "utf-16-le",
    "utf_16": "utf-16",
}  # fmt: skip
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_XML_DECLARED = re.compile(rb"""^\s*<\?xml[^>]{0,200}?encoding\s*=\s*["']([A-Za-z0-9._:-]{1,40})""")
_CHARSET = re.compile(r"""charset\s*=\s*["']?([A-Za-z0-9._:-]{1,40})""", re.IGNORECASE)


def web_encoding(label: str | None) -> str | None:
    """The Python codec for an encoding label, if it is an encoding of the web platform."""
    if not label:
        return None
    try:
        name = codecs.lookup(label.strip().lower()).name.replace("-", "_")
    except LookupError:
        return None
    return _WEB_ENCODINGS.get(name)


def _content_type_charset(content_type: str | None) -> str | None:
    if not content_type:
        return None
    match = _CHARSET.search(content_type)
    return match.group(1) if match else None


def decode_document(body: bytes, content_type: str | None = None) -> tuple[str, str, list[str]]:
    """``body`` decoded: (text, encoding used, warnings)."""
    warnings: list[str] = []
    for bom, encoding in _BOMS:
        if body.startswith(bom):
            text = body[len(bom) :].decode(encoding, errors="replace")
            return text, encoding, warnings
    head = body[:4]
    if head[:2] == b"<\x00" and head[3:4] == b"\x00":
        return body.decode("utf-16-le", errors="replace"), "utf-16-le", warnings
    if head[:2] == b"\x00<":
        return body.decode("utf-16-be", errors="replace"), "utf-16-be", warnings

    declared_match = _XML_DECLARED.match(body[:1024])
    labels = [
        ("XML declaration", declared_match.group(1).decode("ascii") if declared_match else None),
        ("HTTP Content-Type", _content_type_charset(content_type)),
    ]
    candidates: list[str] = []
    for where, label in labels:
        if label is None:
            continue
        named = web_encoding(label)
        if named is None or named.startswith("utf-16"):
            warnings.append(f"ignored the unsupported encoding {label!r} named by the {where}")
        else:
            candidates.append(named)
    if "utf-8" in candidates or not candidates:
        try:
            return body.decode("utf-8"), "utf-8", warnings
        except UnicodeDecodeError:
            if candidates and candidates[0] != "utf-8":
                pass  # the first choice is a legacy encoding: fall through to it
            else:
                return _decode_broken_utf8(body, warnings)
    encoding = candidates[0]
    text = body.decode(encoding, errors="replace")
    if "\ufffd" in text and b"\xef\xbf\xbd" not in body:
        warnings.append(f"some bytes are not valid {encoding}; replaced with U+FFFD")
    return text, encoding, warnings


# A surrogate written as if it were a character (CESU-8, Java's modified UTF-8, WTF-8): not a
# character, but the mark of a UTF-8 encoder all the same.
_ENCODED_SURROGATE = re.compile(rb"\xed[\xa0-\xbf][\x80-\xbf]")


def _decode_broken_utf8(body: bytes, warnings: list[str]) -> tuple[str, str, list[str]]:
    repaired, surrogates = _ENCODED_SURROGATE.subn(b"\xef\xbf\xbd", body)
    text = repaired.decode("utf-8", errors="replace")
    replaced = text.count("\ufffd") - repaired.count(b"\xef\xbf\xbd")
    non_ascii = len(text) - len(text.encode("ascii", errors="ignore")) - text.count("\ufffd")
    if non_ascii == 0 and not surrogates:
        warnings.append(
            "the document is not valid UTF-8 and has no UTF-8 text; read as windows-1252"
        )
        return body.decode("cp1252", errors="replace"), "cp1252", warnings
    if surrogates:
        warnings.append(f"{surrogates} surrogates (not characters) replaced with U+FFFD")
    if replaced:
        warnings.append(f"{replaced} invalid UTF-8 sequences replaced with U+FFFD")
    return text, "utf-8", warnings


# --- preparing the text -----------------------------------------------------------------------

_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>\s*")
_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_ILLEGAL_XML_ASCII = bytes([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20)])
_SURROGATE_UTF8 = re.compile(rb"\xed[\xa0-\xbf]")
_PROLOG_ITEM = re.compile(r"\s*(?:<!--.*?-->|<\?.*?\?>)?\s*", re.DOTALL)
_DOCTYPE = re.compile(r"<!DOCTYPE\s+([^\s\[>]*)", re.IGNORECASE)
_DOCTYPE_TOKEN = re.compile(r"<!--.*?-->|<\?.*?\?>|\"[^\"]*\"|'[^']*'|\[|\]|>", re.DOTALL)
_BARE_AMPERSAND = re.compile(r"&(?![A-Za-z_][\w.:-]{0,63};|#[0-9]{1,8};|#[xX][0-9A-Fa-f]{1,8};)")
_NAMED_REFERENCE = re.compile(r"&(?!(?:amp|lt|gt|quot|apos);)([A-Za-z_][\w.:-]{0,63});")
_CHARACTER_REFERENCE = re.compile(r"&#(?:([0-9]{1,8})|[xX]([0-9A-Fa-f]{1,8}));")
# A reference to a surrogate (U+D800-DFFF): libxml2 lets it through as bytes no decoder reads.
_SURROGATE_REFERENCE = re.compile(
    r"&#(?:[xX]0*[dD][89a-fA-F][0-9a-fA-F]{2}"
    r"|0*(?:5529[6-9]|55[3-9][0-9]{2}|56[0-9]{3}|57[0-2][0-9]{2}|573[0-3][0-9]|5734[0-3]));"
)
_ENTITY_DECLARATION = re.compile(
    r"""<!ENTITY\s+(%\s+)?([^\s%;&<>"']+)\s+
        (?:"([^"]*)"|'([^']*)'|(SYSTEM|PUBLIC)\b[^>]*)\s*(?:NDATA\s+\S+\s*)?>""",
    re.VERBOSE | re.DOTALL,
)


def _xml_escape(text: str) -> str:
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&apos;")
    )


def _char_from_reference(match: re.Match[str]) -> str:
    try:
        code = int(match.group(1)) if match.group(1) else int(match.group(2), 16)
        return "\ufffd" if 0xD800 <= code <= 0xDFFF else chr(code)
    except (ValueError, OverflowError):
        return ""


def find_doctype(text: str) -> tuple[int, int, str, str] | None:
    """(start, end, name, internal subset) of the DOCTYPE declaration, if the prolog has one."""
    position = 0
    while (item := _PROLOG_ITEM.match(text, position)) is not None and item.end() > position:
        position = item.end()
    match = _DOCTYPE.match(text, position)
    if match is None:
        return None
    name = match.group(1)
    in_subset = False
    subset_start = subset_end = -1
    for token in _DOCTYPE_TOKEN.finditer(text, match.end()):
        value = token.group(0)
        if value == "[" and subset_start < 0:
            in_subset, subset_start = True, token.end()
        elif value == "]" and in_subset:
            in_subset, subset_end = False, token.start()
        elif value == ">" and not in_subset:
            subset = text[subset_start:subset_end] if subset_start >= 0 and subset_end >= 0 else ""
            return match.start(), token.end(), name, subset
    raise XmlSafetyError("not a feed: the DOCTYPE declaration is not closed")


def _entity_declarations(subset: str, strict: bool, warnings: list[str]) -> dict[str, str]:
    """The harmless entities of an internal subset (name -> replacement text)."""
    entities: dict[str, str] = {}
    problems: list[str] = []
    declarations = list(_ENTITY_DECLARATION.finditer(subset))
    if "<!ENTITY" in subset and not declarations:
        problems.append("malformed entity declarations")
    if re.search(r"%[^\s%;\"'<>]+;", subset):
        problems.append("parameter entity references")
    if len(declarations) > MAX_ENTITY_DECLARATIONS:
        problems.append(f"more than {MAX_ENTITY_DECLARATIONS} entity declarations")
    for declaration in declarations:
        parameter, name, double, single, external = declaration.groups()
        value = double if double is not None else single
        if parameter:
            problems.append(f"parameter entity %{name}")
        elif external:
            problems.append(f"external entity &{name}; ({external})")
        elif value is None:
            problems.append(f"malformed entity &{name};")
        elif len(value) > MAX_ENTITY_VALUE:
            problems.append(f"oversized entity &{name}; ({len(value):,} characters)")
        elif re.search(r"&(?!#)|%|<", value):
            problems.append(f"entity &{name}; refers to other entities or markup")
        else:
            entities[name] = _CHARACTER_REFERENCE.sub(_char_from_reference, value)
    if problems:
        unique = list(dict.fromkeys(problems))
        reason = "; ".join(unique[:3]) + (f" and {len(unique) - 3} more" if len(unique) > 3 else "")
        if strict:
            raise XmlSafetyError(
                f"XML entity declarations are not allowed: the DOCTYPE declares {reason}"
            )
        warnings.append(f"ignored the DOCTYPE's entity declarations ({reason})")
        return {}
    return entities


def _has_illegal_xml(text: str) -> bool:
    """Whether _ILLEGAL_XML matches, checked on the UTF-8 bytes: the regex engine reads a wide
    string at a few ns per character, and a feed is tens of KB. The multibyte ones are looked
    for only when their lead byte is there (one memchr)."""
    data = text.encode("utf-8", "surrogatepass")
    return (
        len(data.translate(None, _ILLEGAL_XML_ASCII)) != len(data)
        or (b"\xef" in data and (b"\xef\xbf\xbe" in data or b"\xef\xbf\xbf" in data))
        or (b"\xed" in data and _SURROGATE_UTF8.search(data) is not None)
    )


def prepare_xml(text: str, *, strict: bool = True) -> tuple[bytes, list[str]]:
    """``text`` (decoded XML) made safe for the parser: UTF-8 bytes, no DOCTYPE, no custom entity.

    ``strict``: refuse documents whose DOCTYPE declares dangerous entities (else ignore them).
    """
    warnings: list[str] = []
    text = _XML_DECLARATION.sub("", text, count=1)
    if _has_illegal_xml(text):
        text, illegal = _ILLEGAL_XML.subn("", text)
        warnings.append(f"removed {illegal} characters that XML does not allow (NUL, controls)")
    entities: dict[str, str] = {}
    doctype = find_doctype(text)
    if doctype is not None:
        start, end, _name, subset = doctype
        if "<!ENTITY" in subset or "%" in subset:
            entities = _entity_declarations(subset, strict, warnings)
        text = text[:start] + text[end:]

    expanded = surrogates = 0
    literal: set[str] = set()

    def named(match: re.Match[str]) -> str:
        nonlocal expanded
        name = match.group(1)
        if name in entities:
            value = entities[name]
            expanded += len(value)
            if expanded > MAX_ENTITY_EXPANSION:
                raise XmlSafetyError("XML entity expansion exceeds the limit")
            return _xml_escape(value)
        character = _HTML5_ENTITIES.get(name + ";")
        if character is not None:
            return "".join(f"&#{ord(c)};" for c in character)
        literal.add(name)
        return f"&amp;{name};"

    def references(piece: str) -> str:
        nonlocal surrogates
        if "&" not in piece:
            return piece
        piece, replaced = _SURROGATE_REFERENCE.subn("&#xFFFD;", piece)
        surrogates += replaced
        return _NAMED_REFERENCE.sub(named, _BARE_AMPERSAND.sub("&amp;", piece))

    if "&" in text:
        # CDATA sections are literal text: references inside them are not references.
        pieces: list[str] = []
        position = 0
        while (start := text.find("<![CDATA[", position)) >= 0:
            end = text.find("]]>", start + 9)
            end = len(text) if end < 0 else end + 3
            pieces.append(references(text[position:start]))
            pieces.append(text[start:end])
            position = end
        pieces.append(references(text[position:]))
        text = "".join(pieces)
    if surrogates:
        warnings.append(
            f"{surrogates} references to surrogates (not characters) replaced with U+FFFD"
        )
    if literal:
        names = ", ".join(f"&{name};" for name in sorted(literal)[:5])
        warnings.append(f"undeclared entities kept as literal text: {names}")
    return text.encode("utf-8"), warnings


# --- parsing ----------------------------------------------------------------------------------

_parsers = threading.local()


def _parser() -> etree.XMLParser:
    parser: etree.XMLParser | None = getattr(_parsers, "parser", None)
    if parser is None:
        parser = etree.XMLParser(
            recover=True,
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            dtd_validation=False,
            attribute_defaults=False,
            huge_tree=False,
            remove_comments=True,
            remove_pis=True,
            collect_ids=False,
            strip_cdata=True,
        )
        _parsers.parser = parser
    return parser


def parse_xml(data: bytes) -> tuple[etree._Element | None, list[str]]:
    """The root of ``data`` (prepared UTF-8 XML) and the parser's first complaints, if any."""
    parser = _parser()
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        return None, [str(exc)]
    errors = [f"line {entry.line}: {entry.message}" for entry in list(parser.error_log)[:3]]
    return root, errors
