"""When a retainer's customer is warned: low balance and expiring blocks.

Pure Python on purpose (no Odoo import): the rules are tested on their own,
without a database.
"""

DEFAULT_EXPIRY_WARNING_DAYS = "30,7"


def parse_warning_days(text):
    """Return the warning days written in ``text`` (``"30,7"``: comma
    separated whole numbers of days before a block expires), largest first,
    without duplicates. Empty text: no warning.

    :raises ValueError: on anything but non-negative whole numbers.
    """
    days = set()
    for part in (text or "").split(","):
        part = part.strip()
        if not part:
            continue
        if not (part.isascii() and part.isdigit()):  # refuses "-7", "7.5", "²"
            raise ValueError(part)
        days.add(int(part))
    return tuple(sorted(days, reverse=True))


def crosses_low_balance(before, after, threshold):
    """Return True when a posting takes a balance from above ``threshold``
    to at or below it (``threshold`` 0: alerts are off)."""
    return threshold > 0 and before > threshold >= after


def due_warning(days_left, warning_days, sent_days=()):
    """Return the warning (number of days) to send now for a block that
    expires in ``days_left`` days, or ``None``.

    The due warning is the nearest one (smallest number of days) that
    ``days_left`` has reached; it is sent unless that warning or a nearer one
    was already sent. A late run thus sends only the warning it missed
    most recently, never the older ones.

    :param int days_left: days from today to the expiry date (0: it
        expires at the end of today; negative: already expired).
    :param warning_days: the configured warnings, e.g. ``(30, 7)``.
    :param sent_days: the warnings already sent for this block.
    """
    if days_left < 0:
        return None
    due = [days for days in warning_days if days_left <= days]
    if not due:
        return None
    nearest = min(due)
    if any(sent <= nearest for sent in sent_days):
        return None
    return nearest
