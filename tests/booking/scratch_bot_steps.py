import datetime as dt
import pytest
from django.utils import translation
from bots.handlers import customers_flow as flow
from tests.booking.appointments_world import NOW, world_build, local

pytestmark = pytest.mark.django_db


def show(screen):
    print("TEXT:", screen.text, "| toast:", screen.toast, "| stale:", screen.stale)
    for row in screen.rows:
        print("   ", " | ".join(f"[{t}]({d})" for t, d in row))


def press(who, state, data):
    screen, state = flow.booking_step(who, state, data, now=NOW)
    print(">>", data); show(screen); print("   state:", state)
    return screen, state


def test_walk():
    w = world_build()
    translation.activate("en")
    who = flow.Customer(user=w.customer, organization_id=w.org.pk)
    s, st = press(who, None, "cb:start")
    s, st = press(who, st, f"cb:b:{w.branch.pk}")
    s, st = press(who, st, f"cb:s:{w.haircut.pk}")
    s, st = press(who, st, f"cb:s:{w.colouring.pk}")
    s, st = press(who, st, "cb:sd")
    s, st = press(who, st, f"cb:m:{w.master.pk}")
    s, st = press(who, st, s.rows[1][0][1])
    s, st = press(who, st, s.rows[0][0][1])
    ok = s.rows[0][0][1]
    s, st = press(who, st, ok)
    # again: taken
    s, st2 = press(who, {"branch": w.branch.pk, "services": [w.haircut.pk, w.colouring.pk], "staff": w.master.pk}, ok)
    show(flow.my_step(who, "cm:l", now=NOW))
    appt = w.customer.customer_appointments.first()
    show(flow.my_step(who, f"cm:v:{appt.pk}", now=NOW))
    show(flow.move_step(who, f"cr:s:{appt.pk}", now=NOW))
    show(flow.move_step(who, f"cr:d:{appt.pk}:20270303", now=NOW))
    m = flow.move_step(who, f"cr:d:{appt.pk}:20270303", now=NOW).rows[0][1][1]
    show(flow.move_step(who, m, now=NOW))
    show(flow.move_step(who, m.replace("cr:t", "cr:ok"), now=NOW))
    show(flow.appointment_step(who, f"appt:cancel:{appt.pk}", now=NOW)[0])
    show(flow.appointment_step(who, f"appt:confirm:{appt.pk}", now=NOW)[0])
    show(flow.appointment_step(who, f"appt:cx:{appt.pk}", now=NOW)[0])
    show(flow.appointment_step(who, f"appt:cx:{appt.pk}", now=NOW)[0])
    show(flow.appointment_step(who, f"appt:cx:999999", now=NOW)[0])
    s, st = press(who, st, "cb:w")
