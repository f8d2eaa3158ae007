"""What the customer sees: the texts and inline keyboards of the booking flow, "my bookings", reminders' answers,
ratings and waiting-list offers. Pure presentation: no query, no rule; the steps (``customers_flow``) hand in what
the booking services answered.

Callback data (at most 64 bytes; every id in it is checked again by the services against the caller):

* ``cb:…`` the booking flow (``cb:b:<branch>``, ``cb:s:<service>`` toggles, ``cb:sd`` services done,
  ``cb:m:<master or 0 for any>``, ``cb:d:<yyyymmdd>`` a day, ``cb:dp:<yyyymmdd>`` days from, ``cb:t:<minute>`` a
  slot, ``cb:tp:<yyyymmdd>:<page>`` more slots, ``cb:ok:<minute>`` book it, ``cb:w`` / ``cb:wd:<yyyymmdd>`` the
  waiting list, ``cb:x`` stop); a ``<minute>`` is a UTC instant as minutes since the epoch;
* ``cm:l`` my bookings, ``cm:v:<id>`` one of them;
* ``appt:confirm:<id>`` / ``appt:cancel:<id>`` / ``appt:rate:<id>:<n>`` — the buttons the booking services put on
  reminders and rating requests (``services.reminders``), plus ``appt:cx:<id>`` (yes, cancel), ``appt:keep:<id>``
  and ``appt:nc:<id>`` (no comment);
* ``cr:s:<id>`` move a visit, ``cr:d:<id>:<yyyymmdd>``, ``cr:dp:<id>:<yyyymmdd>``, ``cr:tp:<id>:<yyyymmdd>:<page>``,
  ``cr:t:<id>:<minute>``, ``cr:ok:<id>:<minute>``;
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
class Target:
    """Whose day and slot buttons these are: the booking flow (``cb:<action>:…``) or the move of one visit
    (``cr:<action>:<id>:…``)."""

    prefix: str
    ref: tuple[str, ...] = ()

    def data(self, action: str, *args: object) -> str:
        return ":".join([self.prefix, action, *self.ref, *(str(a) for a in args)])


BOOKING = Target("cb")


def moving(appointment_id: int) -> Target:
    return Target("cr", (str(appointment_id),))


@dataclass(frozen=True)
class Screen:
    """One answer of the bot: the message text and its inline keyboard (rows of buttons). ``toast`` is the short
    notice answering the button press; ``new_message`` asks for a fresh message instead of editing the pressed one."""

    text: str
    rows: list[list[Button]] = field(default_factory=list)
    toast: str | None = None
    new_message: bool = False
    stale: bool = False


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
    return Screen(text, [[(_("Book a visit"), "cb:start"), (_("My bookings"), "cm:l")]], toast=text, stale=True)


def out_of_date() -> Screen:
    """A button of a booking conversation that has ended or moved on (an old message)."""
    text = _("This button is out of date. Let us start again.")
    return Screen(text, [[(_("Book a visit"), "cb:start"), (_("My bookings"), "cm:l")]], toast=text)


def refused(message: str, rows: list[list[Button]] | None = None) -> Screen:
    """A service's own refusal of the caller's own object (a cutoff passed, a closed offer): its message as is."""
    return Screen(message, rows or [[(_("My bookings"), "cm:l")]], toast=message)


def main_menu() -> Screen:
    return Screen(
        _("What would you like to do?"),
        [[(_("Book a visit"), "cb:start")], [(_("My bookings"), "cm:l")]],
        new_message=True,
    )


# --- booking flow ------------------------------------------------------------------------------------------------


def branches_screen(branches: Iterable[Any]) -> Screen:
    rows = [[(b.name, f"cb:b:{b.pk}")] for b in branches]
    if not rows:
        return Screen(_("Online booking is not open at the moment."), [])
    return Screen(_("Choose a branch:"), [*rows, [(_("Stop"), "cb:x")]])


def services_screen(branch: Any, services: Iterable[Any], chosen: Sequence[int]) -> Screen:
    rows = []
    for service in services:
        mark = "✅ " if service.pk in chosen else ""
        rows.append([(f"{mark}{service.name}", f"cb:s:{service.pk}")])
    if not rows:
        return Screen(_("There is nothing to book at %(branch)s online yet.") % {"branch": branch.name}, [])
    footer: list[Button] = [(_("Stop"), "cb:x")]
    if chosen:
        footer.insert(0, (_("Next ›"), "cb:sd"))
    text = _("%(branch)s. Choose one or several services, then press “Next”:") % {"branch": branch.name}
    return Screen(text, [*rows, footer])


def masters_screen(masters: Sequence[Any]) -> Screen:
    rows = [[(_("Any master"), "cb:m:0")]] + [[(person(m), f"cb:m:{m.pk}")] for m in masters]
    return Screen(_("Choose a master:"), [*rows, [(_("‹ Back"), "cb:sd:back"), (_("Stop"), "cb:x")]])


def days_screen(
    days: Sequence[dt.date], next_from: dt.date, *, target: Target, waitlist: bool = False, back: str = "cb:x"
) -> Screen:
    """The days with a free slot, for a booking or a move (``target``)."""
    buttons = [(day_label(d), target.data("d", day_code(d))) for d in days]
    rows = _rows(buttons, 3)
    rows.append([(_("Later ›"), target.data("dp", day_code(next_from)))])
    if waitlist:
        rows.append([(_("⏳ Waiting list"), "cb:w")])
    rows.append([(_("Stop"), back) if back == "cb:x" else (_("‹ Back"), back)])
    if days:
        return Screen(_("Choose a day:"), rows)
    return Screen(_("No free time on these days. Look later, or join the waiting list."), rows)


def slots_screen(day: dt.date, starts: Sequence[dt.datetime], zone: ZoneInfo, page: int, *, target: Target) -> Screen:
    """A page of a day's free starts, for a booking or a move (``target``)."""
    shown = starts[page * SLOTS_PER_PAGE : (page + 1) * SLOTS_PER_PAGE]
    if not shown:
        return Screen(
            _("No free time left on %(day)s.") % {"day": day_label(day)},
            [[(_("Other days"), target.data("dp", day_code(day)))]],
        )
    rows = _rows([(time_label(s, zone), target.data("t", minute_of(s))) for s in shown], SLOTS_PER_ROW)
    nav: list[Button] = []
    if page > 0:
        nav.append((_("‹ Earlier"), target.data("tp", day_code(day), page - 1)))
    if len(starts) > (page + 1) * SLOTS_PER_PAGE:
        nav.append((_("Later ›"), target.data("tp", day_code(day), page + 1)))
    if nav:
        rows.append(nav)
    rows.append([(_("Other days"), target.data("dp", day_code(day)))])
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
    return Screen(text, [[(_("✅ Confirm"), f"cb:ok:{minute_of(start)}")], [(_("‹ Other times"), f"cb:d:{day}")]])


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
    return Screen(text, [[(_("My bookings"), "cm:l")]], toast=_("Booked!"))


def just_taken_screen(next_starts: Sequence[dt.datetime], zone: ZoneInfo, *, target: Target, today: dt.date) -> Screen:
    """Someone was faster: the next free starts, the first named in the text."""
    if not next_starts:
        return Screen(
            _("Sorry, this time has just been taken, and there is no free time soon."),
            [[(_("Other days"), target.data("dp", day_code(today)))]],
            toast=_("Just taken"),
        )
    first = next_starts[0].astimezone(zone)
    text = _("Sorry, this time has just been taken. The next free time is %(day)s at %(time)s.") % {
        "day": day_label(first.date()),
        "time": first.strftime("%H:%M"),
    }
    buttons = [
        (f"{day_label(s.astimezone(zone).date())} {time_label(s, zone)}", target.data("t", minute_of(s)))
        for s in next_starts
    ]
    rows = [[b] for b in buttons] + [[(_("Other days"), target.data("dp", day_code(first.date())))]]
    return Screen(text, rows, toast=_("Just taken"))


def waitlist_days_screen(days: Sequence[dt.date]) -> Screen:
    rows = _rows([(day_label(d), f"cb:wd:{day_code(d)}") for d in days], 3)
    rows.append([(_("Stop"), "cb:x")])
    return Screen(_("Which day are you waiting for? We will write as soon as a place frees up."), rows)


def waitlist_joined_screen(day: dt.date) -> Screen:
    text = _("You are on the waiting list for %(day)s. We will write as soon as a place frees up.") % {
        "day": day_label(day)
    }
    return Screen(text, [[(_("My bookings"), "cm:l")]], toast=_("On the waiting list"))


def stopped_screen() -> Screen:
    return Screen(_("Booking stopped. Come back any time."), [[(_("Book a visit"), "cb:start")]])


# --- my bookings -------------------------------------------------------------------------------------------------


def my_visits_screen(visits: Sequence[Any]) -> Screen:
    if not visits:
        return Screen(_("You have no upcoming visits."), [[(_("Book a visit"), "cb:start")]])
    shown = visits[:MAX_LISTED_VISITS]
    lines = [_("Your upcoming visits:")] + [f"{i}. {visit_line(a)}" for i, a in enumerate(shown, start=1)]
    rows = [[(f"{i}. {day_label(_local_day(a))} {_local_time(a)}", f"cm:v:{a.pk}")] for i, a in enumerate(shown, 1)]
    rows.append([(_("Book a visit"), "cb:start")])
    return Screen("\n".join(lines), rows)


def _local_day(appointment: Any) -> dt.date:
    return appointment.starts_at.astimezone(ZoneInfo(appointment.branch.effective_time_zone)).date()


def _local_time(appointment: Any) -> str:
    return time_label(appointment.starts_at, ZoneInfo(appointment.branch.effective_time_zone))


def visit_screen(appointment: Any, *, open_: bool) -> Screen:
    text = visit_line(appointment) + "\n" + _("Status: %(status)s") % {"status": appointment.get_status_display()}
    rows: list[list[Button]] = []
    if open_:
        rows.append([(_("Move"), f"cr:s:{appointment.pk}"), (_("Cancel visit"), f"appt:cancel:{appointment.pk}")])
    rows.append([(_("‹ My bookings"), "cm:l")])
    return Screen(text, rows)


def cancel_ask_screen(appointment: Any) -> Screen:
    text = _("Cancel this visit?") + "\n" + visit_line(appointment)
    return Screen(
        text,
        [[(_("Yes, cancel it"), f"appt:cx:{appointment.pk}"), (_("No, keep it"), f"appt:keep:{appointment.pk}")]],
    )


def cancelled_screen(appointment: Any) -> Screen:
    text = _("The visit is cancelled: %(visit)s.") % {"visit": visit_line(appointment)}
    return Screen(text, [[(_("Book a visit"), "cb:start"), (_("My bookings"), "cm:l")]], toast=_("Cancelled"))


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
            [(_("✅ Yes, move it"), f"cr:ok:{appointment.pk}:{minute_of(start)}")],
            [(_("‹ Other times"), f"cr:d:{appointment.pk}:{day_code(local.date())}")],
        ],
    )


def moved_screen(appointment: Any) -> Screen:
    text = _("Done, the visit is moved: %(visit)s.") % {"visit": visit_line(appointment)}
    return Screen(text, [[(_("My bookings"), "cm:l")]], toast=_("Moved"))


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
    return Screen(text, [[(_("My bookings"), "cm:l")]], toast=_("Booked!"))


def offer_declined_screen() -> Screen:
    return Screen(_("All right. You stay on the waiting list; we will write about the next place."), [])
