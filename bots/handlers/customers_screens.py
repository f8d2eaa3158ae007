"""What the customer sees: the texts and inline keyboards of the booking flow, "my bookings", reminders' answers,
ratings and waiting-list offers. Pure presentation: no query, no rule; the steps (``customers_flow``) hand in what
the booking services answered.

Callback data (at most 64 bytes; every id in it is checked again by the services against the caller):

* ``bk:…`` the booking flow (``bk:b:<branch>``, ``bk:s:<service>`` toggles, ``bk:sd`` services done,
  ``bk:m:<master or 0 for any>``, ``bk:d:<yyyymmdd>`` a day, ``bk:dp:<yyyymmdd>`` days from, ``bk:t:<minute>`` a
  slot, ``bk:tp:<yyyymmdd>:<page>`` more slots, ``bk:ok:<minute>`` book it, ``bk:w`` / ``bk:wd:<yyyymmdd>`` the
  waiting list, ``bk:x`` stop); a ``<minute>`` is a UTC instant as minutes since the epoch;
* ``my:l`` my bookings, ``my:v:<id>`` one of them;
* ``appt:confirm:<id>`` / ``appt:cancel:<id>`` / ``appt:rate:<id>:<n>`` — the buttons the booking services put on
  reminders and rating requests (``services.reminders``), plus ``appt:cx:<id>`` (yes, cancel), ``appt:keep:<id>``
  and ``appt:nc:<id>`` (no comment);
* ``rs:s:<id>`` move a visit, ``rs:d:<id>:<yyyymmdd>``, ``rs:dp:<id>:<yyyymmdd>``, ``rs:tp:<id>:<yyyymmdd>:<page>``,
  ``rs:t:<id>:<minute>``, ``rs:ok:<id>:<minute>``;
* ``wl:take:<id>`` / ``wl:decline:<id>`` — the waiting-list offer's buttons (``services.waitlist``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.utils.formats import date_format
from django.utils.translation import gettext as _

Button = tuple[str, str]  # (label, callback data)

#: Slots shown on one screen (four per row).
SLOTS_PER_PAGE = 16
SLOTS_PER_ROW = 4
#: Visits listed under "my bookings".
MAX_LISTED_VISITS = 10


@dataclass(frozen=True)
class Screen:
    """One answer of the bot: the message text and its inline keyboard (rows of buttons). ``toast`` is the short
    notice answering the button press; ``new_message`` asks for a fresh message instead of editing the pressed one."""

    text: str
    rows: list[list[Button]] = field(default_factory=list)
    toast: str | None = None
    new_message: bool = False


# --- encoding ----------------------------------------------------------------------------------------------------


def minute_of(moment: dt.datetime) -> int:
    """A UTC instant as whole minutes since the epoch (how callback data carries a slot's start)."""
    return int(moment.timestamp() // 60)


def moment_of(minute: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(minute * 60, tz=dt.UTC)


def day_code(day: dt.date) -> str:
    return day.strftime("%Y%m%d")


def day_of(code: str) -> dt.date:
    if len(code) != 8 or not code.isdigit():
        raise ValueError(code)
    return dt.date(int(code[:4]), int(code[4:6]), int(code[6:]))


# --- formatting --------------------------------------------------------------------------------------------------


def day_label(day: dt.date) -> str:
    """ "Wed 03.12" in the active language."""
    return date_format(day, "D d.m")


def long_day(day: dt.date) -> str:
    return date_format(day, "l, j E") if day else ""


def time_label(moment: dt.datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%H:%M")


def money(amount: Decimal, currency: str) -> str:
    whole = f"{amount:,.2f}".rstrip("0").rstrip(".").replace(",", "\u00a0")
    return f"{whole} {currency}"


def person(user: Any) -> str:
    return (user.get_full_name() or user.first_name or "").strip() or _("Master")


def other_days_label() -> str:
    return _("Other days")


def _rows(buttons: Sequence[Button], per_row: int) -> list[list[Button]]:
    return [list(buttons[i : i + per_row]) for i in range(0, len(buttons), per_row)]


# --- common answers ----------------------------------------------------------------------------------------------


def not_available() -> Screen:
    """The one answer for a button whose object is gone, changed, or not the caller's (it tells them apart in no
    way: a forged id learns nothing)."""
    text = _("Sorry, this is no longer available.")
    return Screen(text, [[(_("Book a visit"), "bk:start"), (_("My bookings"), "my:l")]], toast=text)


def out_of_date() -> Screen:
    """A button of a booking conversation that has ended or moved on (an old message)."""
    text = _("This button is out of date. Let us start again.")
    return Screen(text, [[(_("Book a visit"), "bk:start"), (_("My bookings"), "my:l")]], toast=text)


def not_linked() -> Screen:
    text = _("Please share your phone number first: send /start and press the button.")
    return Screen(text, toast=text, new_message=True)


def refused(message: str, rows: list[list[Button]] | None = None) -> Screen:
    """A service's own refusal of the caller's own object (a cutoff passed, a closed offer): its message as is."""
    return Screen(message, rows or [[(_("My bookings"), "my:l")]], toast=message)


def main_menu() -> Screen:
    return Screen(
        _("What would you like to do?"),
        [[(_("Book a visit"), "bk:start")], [(_("My bookings"), "my:l")]],
        new_message=True,
    )


# --- booking flow ------------------------------------------------------------------------------------------------


def branches_screen(branches: Iterable[Any]) -> Screen:
    rows = [[(b.name, f"bk:b:{b.pk}")] for b in branches]
    if not rows:
        return Screen(_("Online booking is not open at the moment."), [])
    return Screen(_("Choose a branch:"), [*rows, [(_("Stop"), "bk:x")]])


def services_screen(branch: Any, services: Iterable[Any], chosen: Sequence[int]) -> Screen:
    rows = []
    for service in services:
        mark = "✅ " if service.pk in chosen else ""
        rows.append([(f"{mark}{service.name}", f"bk:s:{service.pk}")])
    if not rows:
        return Screen(_("There is nothing to book at %(branch)s online yet.") % {"branch": branch.name}, [])
    footer: list[Button] = [(_("Stop"), "bk:x")]
    if chosen:
        footer.insert(0, (_("Next ›"), "bk:sd"))
    text = _("%(branch)s. Choose one or several services, then press “Next”:") % {"branch": branch.name}
    return Screen(text, [*rows, footer])


def masters_screen(masters: Sequence[Any]) -> Screen:
    rows = [[(_("Any master"), "bk:m:0")]] + [[(person(m), f"bk:m:{m.pk}")] for m in masters]
    return Screen(_("Choose a master:"), [*rows, [(_("‹ Back"), "bk:sd:back"), (_("Stop"), "bk:x")]])


def days_screen(
    days: Sequence[dt.date], next_from: dt.date, *, prefix: str, waitlist: bool = False, back: str = "bk:x"
) -> Screen:
    """The days with a free slot; ``prefix`` is ``bk`` or ``rs:<id>`` (a move)."""
    buttons = [(day_label(d), f"{prefix}:d:{day_code(d)}") for d in days]
    rows = _rows(buttons, 3)
    rows.append([(_("Later ›"), f"{prefix}:dp:{day_code(next_from)}")])
    if waitlist:
        rows.append([(_("⏳ Waiting list"), "bk:w")])
    rows.append([(_("Stop"), back)])
    if days:
        return Screen(_("Choose a day:"), rows)
    return Screen(_("No free time on these days. Look later, or join the waiting list."), rows)


def slots_screen(day: dt.date, starts: Sequence[dt.datetime], zone: ZoneInfo, page: int, *, prefix: str) -> Screen:
    """A page of a day's free starts; ``prefix`` is ``bk`` or ``rs:<id>``."""
    shown = starts[page * SLOTS_PER_PAGE : (page + 1) * SLOTS_PER_PAGE]
    if not shown:
        return Screen(
            _("No free time left on %(day)s.") % {"day": day_label(day)},
            [[(_("Other days"), f"{prefix}:dp:{day_code(day)}")]],
        )
    rows = _rows([(time_label(s, zone), f"{prefix}:t:{minute_of(s)}") for s in shown], SLOTS_PER_ROW)
    nav: list[Button] = []
    if page > 0:
        nav.append((_("‹ Earlier"), f"{prefix}:tp:{day_code(day)}:{page - 1}"))
    if len(starts) > (page + 1) * SLOTS_PER_PAGE:
        nav.append((_("Later ›"), f"{prefix}:tp:{day_code(day)}:{page + 1}"))
    if nav:
        rows.append(nav)
    rows.append([(_("Other days"), f"{prefix}:dp:{day_code(day)}")])
    return Screen(_("Free times on %(day)s:") % {"day": day_label(day)}, rows)


def confirm_screen(
    *, services: Sequence[str], master: str, start: dt.datetime, zone: ZoneInfo, branch: str, price: str
) -> Screen:
    local = start.astimezone(zone)
    text = "\n".join(
        [
            _("Please check your booking:"),
            _("Services: %(services)s") % {"services": ", ".join(services)},
            _("Master: %(master)s") % {"master": master},
            _("When: %(day)s at %(time)s") % {"day": day_label(local.date()), "time": local.strftime("%H:%M")},
            _("Where: %(branch)s") % {"branch": branch},
            _("Price: %(price)s") % {"price": price},
        ]
    )
    day = day_code(local.date())
    return Screen(text, [[(_("✅ Confirm"), f"bk:ok:{minute_of(start)}")], [(_("‹ Other times"), f"bk:d:{day}")]])


def visit_line(appointment: Any) -> str:
    """ "Haircut, Colouring — Wed 03.12 at 10:00, Aigerim (Centre)"."""
    zone = ZoneInfo(appointment.branch.effective_time_zone)
    local = appointment.starts_at.astimezone(zone)
    services = ", ".join(line.service.name for line in appointment.lines.all())
    return _("%(services)s — %(day)s at %(time)s, %(master)s (%(branch)s)") % {
        "services": services,
        "day": day_label(local.date()),
        "time": local.strftime("%H:%M"),
        "master": person(appointment.staff),
        "branch": appointment.branch.name,
    }


def booked_screen(appointment: Any) -> Screen:
    text = _("Booked! %(visit)s. We will remind you before the visit.") % {"visit": visit_line(appointment)}
    return Screen(text, [[(_("My bookings"), "my:l")]], toast=_("Booked!"))


def just_taken_screen(next_starts: Sequence[dt.datetime], zone: ZoneInfo, *, prefix: str) -> Screen:
    """Someone was faster: the next free starts, the first named in the text."""
    if not next_starts:
        return Screen(
            _("Sorry, this time has just been taken, and there is no free time soon."),
            [[(_("Other days"), f"{prefix}:dp:{day_code(dt.date.today())}")]],
            toast=_("Just taken"),
        )
    first = next_starts[0].astimezone(zone)
    text = _("Sorry, this time has just been taken. The next free time is %(day)s at %(time)s.") % {
        "day": day_label(first.date()),
        "time": first.strftime("%H:%M"),
    }
    buttons = [
        (f"{day_label(s.astimezone(zone).date())} {time_label(s, zone)}", f"{prefix}:t:{minute_of(s)}")
        for s in next_starts
    ]
    rows = [[b] for b in buttons] + [[(_("Other days"), f"{prefix}:dp:{day_code(first.date())}")]]
    return Screen(text, rows, toast=_("Just taken"))


def waitlist_days_screen(days: Sequence[dt.date]) -> Screen:
    rows = _rows([(day_label(d), f"bk:wd:{day_code(d)}") for d in days], 3)
    rows.append([(_("Stop"), "bk:x")])
    return Screen(_("Which day are you waiting for? We will write as soon as a place frees up."), rows)


def waitlist_joined_screen(day: dt.date) -> Screen:
    text = _("You are on the waiting list for %(day)s. We will write as soon as a place frees up.") % {
        "day": day_label(day)
    }
    return Screen(text, [[(_("My bookings"), "my:l")]], toast=_("On the waiting list"))


def stopped_screen() -> Screen:
    return Screen(_("Booking stopped. Come back any time."), [[(_("Book a visit"), "bk:start")]])


# --- my bookings -------------------------------------------------------------------------------------------------


def my_visits_screen(visits: Sequence[Any]) -> Screen:
    if not visits:
        return Screen(_("You have no upcoming visits."), [[(_("Book a visit"), "bk:start")]])
    shown = visits[:MAX_LISTED_VISITS]
    lines = [_("Your upcoming visits:")] + [f"{i}. {visit_line(a)}" for i, a in enumerate(shown, start=1)]
    rows = [[(f"{i}. {day_label(_local_day(a))} {_local_time(a)}", f"my:v:{a.pk}")] for i, a in enumerate(shown, 1)]
    rows.append([(_("Book a visit"), "bk:start")])
    return Screen("\n".join(lines), rows)


def _local_day(appointment: Any) -> dt.date:
    return appointment.starts_at.astimezone(ZoneInfo(appointment.branch.effective_time_zone)).date()


def _local_time(appointment: Any) -> str:
    return time_label(appointment.starts_at, ZoneInfo(appointment.branch.effective_time_zone))


def visit_screen(appointment: Any, *, open_: bool) -> Screen:
    text = visit_line(appointment) + "\n" + _("Status: %(status)s") % {"status": appointment.get_status_display()}
    rows: list[list[Button]] = []
    if open_:
        rows.append([(_("Move"), f"rs:s:{appointment.pk}"), (_("Cancel visit"), f"appt:cancel:{appointment.pk}")])
    rows.append([(_("‹ My bookings"), "my:l")])
    return Screen(text, rows)


def cancel_ask_screen(appointment: Any) -> Screen:
    text = _("Cancel this visit?") + "\n" + visit_line(appointment)
    return Screen(
        text,
        [[(_("Yes, cancel it"), f"appt:cx:{appointment.pk}"), (_("No, keep it"), f"appt:keep:{appointment.pk}")]],
    )


def cancelled_screen(appointment: Any) -> Screen:
    text = _("The visit is cancelled: %(visit)s.") % {"visit": visit_line(appointment)}
    return Screen(text, [[(_("Book a visit"), "bk:start"), (_("My bookings"), "my:l")]], toast=_("Cancelled"))


def kept_screen(appointment: Any) -> Screen:
    return Screen(_("Good, the visit stays: %(visit)s.") % {"visit": visit_line(appointment)}, [])


def confirmed_screen(appointment: Any) -> Screen:
    text = _("Thank you, your visit is confirmed: %(visit)s. See you!") % {"visit": visit_line(appointment)}
    return Screen(text, [], toast=_("Confirmed"))


# --- moving a visit ----------------------------------------------------------------------------------------------


def move_ask_screen(appointment: Any, start: dt.datetime) -> Screen:
    zone = ZoneInfo(appointment.branch.effective_time_zone)
    local = start.astimezone(zone)
    text = _("Move your visit to %(day)s at %(time)s?") % {
        "day": day_label(local.date()),
        "time": local.strftime("%H:%M"),
    }
    text += "\n" + _("Now: %(visit)s") % {"visit": visit_line(appointment)}
    return Screen(
        text,
        [
            [(_("✅ Yes, move it"), f"rs:ok:{appointment.pk}:{minute_of(start)}")],
            [(_("‹ Other times"), f"rs:d:{appointment.pk}:{day_code(local.date())}")],
        ],
    )


def moved_screen(appointment: Any) -> Screen:
    text = _("Done, the visit is moved: %(visit)s.") % {"visit": visit_line(appointment)}
    return Screen(text, [[(_("My bookings"), "my:l")]], toast=_("Moved"))


# --- ratings -----------------------------------------------------------------------------------------------------


def rated_screen(appointment_id: int, score: int) -> Screen:
    text = _(
        "Thank you! You rated the visit %(score)d out of 10. Would you like to add a few words? Just write them in a "
        "message."
    ) % {"score": score}
    return Screen(text, [[(_("No comment"), f"appt:nc:{appointment_id}")]], toast=_("Thank you!"))


def comment_saved_screen() -> Screen:
    return Screen(_("Thank you for your words! We pass them on."), new_message=True)


def no_comment_screen() -> Screen:
    return Screen(_("Thank you for your rating!"), [])


# --- waiting-list offers -----------------------------------------------------------------------------------------


def offer_taken_screen(appointment: Any) -> Screen:
    text = _("Done! The place is yours: %(visit)s.") % {"visit": visit_line(appointment)}
    return Screen(text, [[(_("My bookings"), "my:l")]], toast=_("Booked!"))


def offer_declined_screen() -> Screen:
    return Screen(_("All right. You stay on the waiting list; we will write about the next place."), [])
