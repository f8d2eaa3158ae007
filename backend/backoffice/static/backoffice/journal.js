// The booking journal: a branch's masters side by side over a day (a grid of slots) or a week (a day per column);
// a free cell books; every change made anywhere arrives on ws/v1/booking/journal/ and redraws.
"use strict";
(function () {
  const { root, api, socket, element, status } = window.BrigadaPage;
  const branchId = root.dataset.branchId;
  const organizationId = root.dataset.organizationId;
  const zone = root.dataset.timeZone;
  const STEP = 30; // minutes per row of the day grid
  const view = { date: root.dataset.day || root.dataset.today, days: 1, journal: null };
  const grid = document.getElementById("journal");
  const dialog = document.getElementById("book-dialog");

  // Wall-clock parts of an instant in the branch's zone.
  const partsFormat = new Intl.DateTimeFormat("en-CA", {
    timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
    hourCycle: "h23",
  });
  function local(iso) {
    const p = Object.fromEntries(partsFormat.formatToParts(new Date(iso)).map((x) => [x.type, x.value]));
    return { day: p.year + "-" + p.month + "-" + p.day, minute: Number(p.hour) * 60 + Number(p.minute) };
  }
  // The instant of a wall-clock time in the branch's zone (the offset found by one correction step).
  function instant(day, minute) {
    const guess = new Date(day + "T00:00:00Z").getTime() + minute * 60000;
    const seen = local(new Date(guess).toISOString());
    const seenUtc = new Date(seen.day + "T00:00:00Z").getTime() + seen.minute * 60000;
    return new Date(guess - (seenUtc - guess)).toISOString();
  }
  const hhmm = (m) => String(Math.floor(m / 60)).padStart(2, "0") + ":" + String(m % 60).padStart(2, "0");

  async function load() {
    const query = new URLSearchParams({ branch_id: branchId, date: view.date, days: String(view.days) });
    try {
      view.journal = await api("GET", "/api/v1/booking/journal?" + query);
      document.getElementById("journal-error").textContent = "";
    } catch (failure) {
      document.getElementById("journal-error").textContent = failure.message;
      return;
    }
    (view.days === 1 ? drawDay : drawWeek)(view.journal);
  }

  function drawDay(journal) {
    const day = journal.days[0];
    let first = 24 * 60, last = 0;
    for (const column of journal.columns) {
      for (const span of column.working) {
        first = Math.min(first, local(span.start).minute);
        last = Math.max(last, local(span.end).day > day ? 24 * 60 : local(span.end).minute);
      }
    }
    if (first >= last) { first = 9 * 60; last = 18 * 60; }
    first -= first % STEP;
    const head = element("tr", {}, [element("th", { text: "" })].concat(
      journal.columns.map((c) => element("th", { text: c.name, "data-staff-id": String(c.staff_id) }))));
    const rows = [head];
    for (let minute = first; minute < last; minute += STEP) {
      const cells = [element("th", { className: "time", text: hhmm(minute) })];
      for (const column of journal.columns) cells.push(cell(column, day, minute));
      rows.push(element("tr", {}, cells));
    }
    grid.replaceChildren(...rows);
  }

  function cell(column, day, minute) {
    // Instants are compared as numbers: the API's and the browser's ISO strings differ in form ("Z" vs ".000Z").
    const start = instant(day, minute);
    const from = Date.parse(start), to = Date.parse(instant(day, minute + STEP));
    const overlaps = (s, e) => Date.parse(s) < to && Date.parse(e) > from;
    const visit = column.appointments.find((a) => overlaps(a.start, a.end));
    const session = column.sessions.find((s) => overlaps(s.start, s.end));
    const working = column.working.some((w) => Date.parse(w.start) <= from && Date.parse(w.end) >= to);
    const td = element("td", { "data-staff-id": String(column.staff_id), "data-start": start });
    if (visit) {
      td.className = "busy status-" + visit.status;
      td.dataset.appointmentId = String(visit.appointment_id);
      if (local(visit.start).minute > minute - STEP && local(visit.start).minute <= minute) {
        td.append(element("strong", { text: visit.client_name }), element("br"),
          element("span", { text: hhmm(local(visit.start).minute) + " " + visit.service_name }));
      }
    } else if (session) {
      td.className = "busy session";
      td.textContent = session.service_name + " " + session.seats_taken + "/" + session.capacity;
    } else if (working) {
      td.className = "free";
      td.tabIndex = 0;
      td.title = root.dataset.labelBook;
      td.addEventListener("click", () => openBooking(column, start));
    } else {
      td.className = "off";
    }
    return td;
  }

  function drawWeek(journal) {
    const head = element("tr", {}, [element("th", { text: "" })].concat(journal.days.map((d) => element("th", {}, [
      element("a", { href: "#", text: d, onclick: (e) => { e.preventDefault(); view.date = d; view.days = 1; load(); } }),
    ]))));
    const rows = [head];
    for (const column of journal.columns) {
      const cells = [element("th", { text: column.name })];
      for (const day of journal.days) {
        const visits = column.appointments.filter((a) => local(a.start).day === day);
        const working = column.working.some((w) => local(w.start).day === day);
        cells.push(element("td", { className: working ? (visits.length ? "busy" : "free") : "off" },
          visits.map((a) => element("div", { text: hhmm(local(a.start).minute) + " " + a.client_name }))));
      }
      rows.push(element("tr", {}, cells));
    }
    grid.replaceChildren(...rows);
  }

  // --- booking from a free cell ------------------------------------------------------------------------------
  let services = null;
  async function openBooking(column, start) {
    dialog.querySelector("[name=staff_id]").value = column.staff_id;
    dialog.querySelector("[name=start]").value = start;
    dialog.querySelector(".when").textContent = column.name + ", " + hhmm(local(start).minute);
    dialog.querySelector(".error").textContent = "";
    if (services === null) {
      services = (await api("GET", "/api/v1/catalog/services?branch_id=" + branchId)).items.filter((s) => !s.is_group);
      dialog.querySelector("[name=service_id]").replaceChildren(
        ...services.map((s) => element("option", { value: String(s.id), text: s.name + " (" + s.duration_minutes + ")" })));
    }
    dialog.showModal();
    dialog.querySelector("[name=search]").focus();
  }

  let searching = 0;
  dialog.querySelector("[name=search]").addEventListener("input", async (event) => {
    const ticket = ++searching;
    const text = event.target.value.trim();
    const select = dialog.querySelector("[name=client_id]");
    if (text.length < 2) { select.replaceChildren(); return; }
    const query = new URLSearchParams({ organization_id: organizationId, search: text, limit: "10" });
    const found = await api("GET", "/api/v1/crm/clients?" + query);
    if (ticket !== searching) return;
    select.replaceChildren(...found.items.map((c) => element("option", { value: String(c.id), text: c.full_name + " " + c.phone })));
  });

  dialog.querySelector("form").addEventListener("submit", async (event) => {
    event.preventDefault();
    if (event.submitter && event.submitter.value === "cancel") { dialog.close(); return; }
    const form = new FormData(event.target);
    try {
      await api("POST", "/api/v1/booking/appointments", {
        branch_id: Number(branchId),
        service_id: Number(form.get("service_id")),
        staff_id: Number(form.get("staff_id")),
        client_id: Number(form.get("client_id")),
        start: form.get("start"),
      });
      dialog.close();
      load();
    } catch (failure) {
      dialog.querySelector(".error").textContent = failure.message;
    }
  });

  // --- navigation --------------------------------------------------------------------------------------------
  function shift(days) {
    const d = new Date(view.date + "T00:00:00Z");
    d.setUTCDate(d.getUTCDate() + days);
    view.date = d.toISOString().slice(0, 10);
    load();
  }
  document.getElementById("prev").addEventListener("click", () => shift(-view.days));
  document.getElementById("next").addEventListener("click", () => shift(view.days));
  document.getElementById("today").addEventListener("click", () => { view.date = root.dataset.today; load(); });
  document.getElementById("span").addEventListener("change", (e) => { view.days = Number(e.target.value); load(); });

  socket("/ws/v1/booking/journal/?branch_id=" + branchId, function (message) {
    if (String(message.type).startsWith("appointment.") || String(message.type).startsWith("session.")) load();
  }, status);
  load();
})();
