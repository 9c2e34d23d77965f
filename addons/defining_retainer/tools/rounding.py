"""Turn a logged duration into whole billing units.

Pure Python on purpose (no Odoo import): the rule is the heart of the product
and is tested exhaustively without a database. See the "Units and rounding"
section of the business rules.
"""

METHOD_GRACE = "grace"
METHOD_UP = "up"
METHOD_DOWN = "down"
METHOD_NEAREST = "nearest"
METHODS = (METHOD_GRACE, METHOD_UP, METHOD_DOWN, METHOD_NEAREST)
# Rounding scopes: each timesheet entry rounded on its own, or an incident
# (its ticket, else its task, else the entry) rounded once.
SCOPE_ENTRY = "entry"
SCOPE_INCIDENT = "incident"
SCOPES = (SCOPE_ENTRY, SCOPE_INCIDENT)

SECONDS_PER_HOUR = 3600
MAX_HOURS = 1e6  # far beyond any timesheet; keeps the integer maths exact
MAX_DAY_HOURS = 24
MAX_RATE = 1e3  # far beyond any contact type's multiplier

# What policy_error names, and the message duration_to_units raises for it.
POLICY_UNIT = "unit_minutes"
POLICY_GRACE = "grace_minutes"
POLICY_MIN_UNITS = "min_units"
POLICY_DAY = "day_hours"
_POLICY_MESSAGES = {
    POLICY_UNIT: "the unit length must be positive",
    POLICY_GRACE: "the grace must be at least 0 and shorter than one unit",
    POLICY_MIN_UNITS: "the minimum units cannot be negative",
    POLICY_DAY: f"a retainer day lasts more than 0 and at most {MAX_DAY_HOURS} hours",
}


def policy_error(*, unit_minutes, grace_minutes, min_units, day_hours=None):
    """Return which setting of a rounding policy is invalid, or ``None``
    when the policy can round: the one rule the company defaults and each
    retainer's own policy are both checked against.

    :param int unit_minutes: length of one unit in minutes (must be > 0).
    :param int grace_minutes: at least 0 and shorter than one unit.
    :param int min_units: at least 0.
    :param float day_hours: hours in one retainer day, more than 0 and at
        most ``MAX_DAY_HOURS`` (``None``: not checked).
    :returns: ``POLICY_UNIT``, ``POLICY_GRACE``, ``POLICY_MIN_UNITS``,
        ``POLICY_DAY`` or ``None``.
    """
    if unit_minutes <= 0:
        return POLICY_UNIT
    if not 0 <= grace_minutes < unit_minutes:
        return POLICY_GRACE
    if min_units < 0:
        return POLICY_MIN_UNITS
    # Written so that NaN is refused too.
    if day_hours is not None and not 0 < day_hours <= MAX_DAY_HOURS:
        return POLICY_DAY
    return None


def duration_to_units(
    hours, *, unit_minutes=15, grace_minutes=5, min_units=1, method=METHOD_GRACE
):
    """Return the whole number of units billed for ``hours`` of work.

    :param float hours: entered duration in hours (``3h37`` is ``217 / 60``).
    :param int unit_minutes: length of one unit in minutes (> 0).
    :param int grace_minutes: for ``grace``, a remainder of at most this many
        minutes is dropped, a longer one counts as one more unit.
    :param int min_units: least units billed for any positive duration.
    :param str method: ``grace``, ``up``, ``down`` or ``nearest`` (half-up).
    :returns: units, an ``int`` >= 0; 0 only for a zero duration.
    :raises ValueError: on a negative duration or an invalid policy.
    """
    _check_policy(unit_minutes, grace_minutes, min_units, method)
    # Whole seconds first: 3h37 typed as 3.6166... hours must be exactly 217
    # minutes, never a float compared against a boundary.
    seconds = round(_checked_hours(hours) * SECONDS_PER_HOUR)
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return _seconds_to_units(
        seconds,
        unit_minutes=unit_minutes,
        grace_minutes=grace_minutes,
        min_units=min_units,
        method=method,
    )


def incident_units(
    entries, *, unit_minutes=15, grace_minutes=5, min_units=1, method=METHOD_GRACE
):
    """Return the whole number of units billed for one incident: the rounding
    of :func:`duration_to_units` applied once to the incident's total time.

    Each entry's duration is weighted by its rate (the level's multiplier of
    its contact type) and taken in whole seconds, exactly as a single entry
    is; the whole seconds are summed (integers: the order of the entries
    never matters) and rounded once; the minimum units apply once, to the
    incident.

    A single entry costs what :func:`duration_to_units` bills for it. With
    the ``up`` method an incident never costs more than its entries rounded
    one by one; with ``grace``, ``down`` and ``nearest`` it can cost more
    (15-minute units, 5 minutes of grace: 0:20 + 0:20 is 1 + 1 units entry
    by entry, 3 units for the incident's 0:40) and at most one unit more per
    entry beyond the first.

    :param entries: iterable of ``(hours, rate)``: entered duration in hours
        (>= 0) and its rate multiplier (>= 0).
    :param unit_minutes, grace_minutes, min_units, method: the policy, as
        for :func:`duration_to_units`.
    :returns: units, an ``int`` >= 0; 0 only when the weighted total is 0.
    :raises ValueError: on a negative or invalid duration or rate, or an
        invalid policy.
    """
    _check_policy(unit_minutes, grace_minutes, min_units, method)
    total = 0
    for hours, rate in entries:
        if not 0 <= rate <= MAX_RATE:  # also refuses NaN and infinities
            raise ValueError(f"{rate!r} is not a rate multiplier")
        # What duration_to_units(hours * rate) counts for the entry alone.
        seconds = round(_checked_hours(hours * rate) * SECONDS_PER_HOUR)
        if seconds < 0:
            raise ValueError("a duration cannot be negative")
        total += seconds
    return _seconds_to_units(
        total,
        unit_minutes=unit_minutes,
        grace_minutes=grace_minutes,
        min_units=min_units,
        method=method,
    )


def _check_policy(unit_minutes, grace_minutes, min_units, method):
    """:raises ValueError: an unknown method or an invalid policy."""
    if method not in METHODS:
        raise ValueError(f"unknown rounding method {method!r}")
    problem = policy_error(
        unit_minutes=unit_minutes, grace_minutes=grace_minutes, min_units=min_units
    )
    if problem:
        raise ValueError(_POLICY_MESSAGES[problem])


def _checked_hours(hours):
    """``hours`` when it is a finite duration within ``MAX_HOURS``.

    :raises ValueError: otherwise (NaN and infinities included).
    """
    if not -MAX_HOURS <= hours <= MAX_HOURS:
        raise ValueError(f"{hours!r} is not a duration in hours")
    return hours


def _seconds_to_units(seconds, *, unit_minutes, grace_minutes, min_units, method):
    """Units of a checked policy for a whole number of ``seconds`` >= 0."""
    if seconds == 0:
        return 0
    unit_seconds = unit_minutes * 60
    units, remainder = divmod(seconds, unit_seconds)
    if remainder:
        if method == METHOD_UP:
            units += 1
        elif method == METHOD_GRACE:
            units += remainder > grace_minutes * 60
        elif method == METHOD_NEAREST:
            units += 2 * remainder >= unit_seconds
    return max(units, min_units)


def units_to_hours(units, unit_minutes=15):
    """Return the hours (float) that ``units`` units of ``unit_minutes`` make."""
    return units * unit_minutes / 60


# How a debit names the rounding policy it was computed with, e.g.
# ``grace/15/5/1``: an incident keeps the policy of its first debit.
_POLICY_KEY_FIELDS = ("method", "unit_minutes", "grace_minutes", "min_units")


def policy_key(*, method, unit_minutes, grace_minutes, min_units):
    """Return the text that names a rounding policy (see :func:`parse_policy_key`)."""
    return f"{method}/{unit_minutes}/{grace_minutes}/{min_units}"


def parse_policy_key(key):
    """Return the policy named by ``key`` (see :func:`policy_key`) as the
    keyword arguments of :func:`incident_units`, or ``None`` when ``key`` is
    empty or names no valid policy (the caller falls back on the current
    policy)."""
    parts = (key or "").split("/")
    if len(parts) != len(_POLICY_KEY_FIELDS) or parts[0] not in METHODS:
        return None
    try:
        numbers = [int(part) for part in parts[1:]]
    except ValueError:
        return None
    policy = dict(zip(_POLICY_KEY_FIELDS, [parts[0], *numbers], strict=True))
    if policy_error(
        unit_minutes=policy["unit_minutes"],
        grace_minutes=policy["grace_minutes"],
        min_units=policy["min_units"],
    ):
        return None
    return policy
