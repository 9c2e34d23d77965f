"""Read the portal's URL and form parameters.

Pure Python on purpose (no Odoo import): every portal route reads its
untrusted parameters through these, so that a hostile value (a NUL byte, a
number with thousands of digits, text where a number belongs) is ignored or
refused here, in one place, and never reaches the database as an error.
"""

# Largest id of a record: PostgreSQL's ``integer`` primary keys.
MAX_ID = 2**31 - 1
MAX_ID_DIGITS = len(str(MAX_ID))
NUL = "\x00"
# Share tokens are UUIDs (36 characters); anything much longer is no token.
MAX_TOKEN_LENGTH = 128


def _whole_number(value):
    """Return ``value`` as a non-negative int if it is one or is written
    with ASCII digits only (``"42"``), else ``None``. A number longer than
    any record id is ``MAX_ID + 1``: too large, without converting thousands
    of digits."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not (text.isascii() and text.isdigit()):
        return None
    return int(text) if len(text) <= MAX_ID_DIGITS else MAX_ID + 1


def parse_id(value):
    """Return ``value`` (a URL or form parameter, or an ``int`` from a
    route's path) as a record id: an int from 1 to ``MAX_ID``. ``None`` for
    anything else (empty, negative, not a whole number, too large), which
    no record has."""
    number = _whole_number(value)
    return number if number is not None and 1 <= number <= MAX_ID else None


def parse_page(value):
    """Return ``value`` as a page number: a positive int, at most ``MAX_ID``
    (the pager shows the last page for any page beyond it); 1 for anything
    that is not a positive whole number."""
    number = _whole_number(value)
    return min(number, MAX_ID) if number else 1


def parse_count(value, *, default, maximum):
    """Return ``value`` as how many records to show: a positive int, at most
    ``maximum``; ``default`` when the value is missing.

    :raises ValueError: the value is given but not a positive whole number.
    """
    if value is None:
        return default
    number = _whole_number(value)
    if not number:
        raise ValueError(f"{str(value)[:20]!r} is not a positive whole number")
    return min(number, maximum)


def parse_text(value, max_length=None):
    """Return ``value`` (a URL or form parameter) as text: stripped, without
    NUL characters (PostgreSQL refuses them in text), cut to ``max_length``
    characters if given; ``""`` when it is not text."""
    if not isinstance(value, str):
        return ""
    text = value.replace(NUL, "").strip()
    return text[:max_length] if max_length is not None else text


def parse_token(value):
    """Return ``value`` (a URL parameter) as a share token to compare with a
    document's: printable ASCII of at most ``MAX_TOKEN_LENGTH`` characters
    (the constant-time comparison refuses anything else); ``None`` when it
    cannot be a token."""
    if (
        isinstance(value, str)
        and 0 < len(value) <= MAX_TOKEN_LENGTH
        and value.isascii()
        and value.isprintable()
    ):
        return value
    return None
