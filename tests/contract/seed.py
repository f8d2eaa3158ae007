"""Seed the contract suite's database: run in its own process (``python -m tests.contract.seed``) against the
database the live server will use, before the server starts. Prints the ids and phones the suite needs as JSON.

Only what a real deployment has before its users open the app: a salon that takes online bookings (a branch, a
service, masters with working hours, a manager), and a staffing franchise with a dispatcher, a corporate client
with a site, and active pool workers free today. Orders, bookings, offers are made by the suite over HTTP.
"""

from __future__ import annotations

import datetime as dt
import json
import os

import django


def main() -> None:
    django.setup()
    from django.utils import timezone

    from backend.staffing.models import SiteCondition
    from backend.staffing.services.orders import client_create, site_create
    from tests.booking.comms_world import salon_make
    from tests.staffing.world import SITE_POINT, declare_free, staffing_world

    salon = salon_make(zone="UTC")
    world = staffing_world(n_workers=2)
    client = client_create(
        user=world.dispatcher,
        organization_id=world.franchise.pk,
        name="Stroy LLC",
        inn="7707083893",
        kpp="773601001",
        ogrn="1027700132195",
    )
    where = site_create(
        user=world.dispatcher,
        client_id=client.pk,
        name="Yard",
        address="Tverskaya 1",
        latitude=SITE_POINT[0],
        longitude=SITE_POINT[1],
        conditions=SiteCondition.OUTDOOR,
        time_zone="UTC",
    )
    start = timezone.now().astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0) - dt.timedelta(hours=2)
    for worker in world.workers:
        declare_free(worker, start, start + dt.timedelta(hours=30))
    print(
        json.dumps(
            {
                "salon": {
                    "organization_id": salon.org.pk,
                    "branch_id": salon.branch.pk,
                    "service_id": salon.service.pk,
                    "manager_phone": salon.manager.phone,
                },
                "staffing": {
                    "organization_id": world.franchise.pk,
                    "site_id": where.pk,
                    "dispatcher_phone": world.dispatcher.phone,
                    "worker_phones": [w.user.phone for w in world.workers],
                    "site_point": [float(SITE_POINT[0]), float(SITE_POINT[1])],
                },
                "pid": os.getpid(),
            }
        )
    )


if __name__ == "__main__":
    main()
