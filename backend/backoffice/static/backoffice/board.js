// The live order board: the organization's shifts, their counts pushed by ws/v1/staffing/board/.
"use strict";
(function () {
  const { root, socket, element, status } = window.BrigadaPage;
  const rows = new Map();
  const body = document.querySelector("#board tbody");
  const when = new Intl.DateTimeFormat(document.documentElement.lang || undefined, {
    weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit",
  });

  function fill(shift) {
    return shift.headcount ? Math.min(100, Math.round((100 * shift.accepted) / shift.headcount)) : 0;
  }

  function render(shift) {
    let row = rows.get(shift.shift_id);
    if (!row) {
      row = element("tr", { "data-shift-id": String(shift.shift_id) });
      rows.set(shift.shift_id, row);
    }
    const percent = fill(shift);
    row.dataset.startsAt = shift.starts_at;
    row.dataset.full = String(shift.accepted >= shift.headcount);
    row.replaceChildren(
      element("td", { text: when.format(new Date(shift.starts_at)) }),
      element("td", { text: shift.order_title }),
      element("td", { text: shift.site_name }),
      element("td", { className: "num headcount", text: String(shift.headcount) }),
      element("td", { className: "num accepted", text: String(shift.accepted) }),
      element("td", { className: "num confirmed", text: String(shift.confirmed) }),
      element("td", { className: "num checked-in", text: String(shift.checked_in) }),
      element("td", { className: "num offered", text: String(shift.offered) }),
      element("td", { className: "num no-show", text: String(shift.no_show) }),
      element("td", { className: "status", text: shift.status }),
      element("td", {}, [
        element("div", { className: "bar" }, [element("span", { style: "width:" + percent + "%" })]),
        element("small", { text: percent + "%" }),
      ]),
    );
    row.classList.toggle("flash", true);
    setTimeout(() => row.classList.toggle("flash", false), 800);
    return row;
  }

  function redraw() {
    const ordered = [...rows.values()].sort((a, b) => a.dataset.startsAt.localeCompare(b.dataset.startsAt));
    body.replaceChildren(...ordered);
    document.getElementById("board-empty").hidden = ordered.length > 0;
    const full = ordered.filter((row) => row.dataset.full === "true").length;
    document.getElementById("board-summary").textContent = full + " / " + ordered.length;
  }

  socket(
    "/ws/v1/staffing/board/?organization_id=" + root.dataset.organizationId,
    function (message) {
      if (message.type === "board.snapshot") {
        rows.clear();
        message.shifts.forEach(render);
        redraw();
      } else if (message.type === "board.shift") {
        message.shifts.forEach(render);
        redraw();
      }
    },
    status,
  );
})();
