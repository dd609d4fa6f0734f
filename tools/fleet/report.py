"""The fleet's report: a JSON document for machines and an SVG for people (drawn here,
no plotting library): the CSMS's response times over the run, and sessions running and
stations registered over the run."""
import json
import time
from xml.sax.saxutils import escape


def pct(xs, p):
    if not xs:
        return None
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, int(len(xs) * p / 100))], 1)


def build(fleet):
    st = fleet.tap.stats
    with st.lock:
        actions = sorted(set(st.calls) | set(st.rtt))
        per = {a: {"count": st.calls.get(a, 0), "answered": len(st.rtt.get(a, ())),
                   "p50_ms": pct(st.rtt.get(a), 50), "p90_ms": pct(st.rtt.get(a), 90),
                   "p99_ms": pct(st.rtt.get(a), 99),
                   "max_ms": round(max(st.rtt[a]), 1) if st.rtt.get(a) else None,
                   "callerror": st.errors.get(a, 0), "rejected": st.rejected.get(a, 0)}
               for a in actions}
        allrtt = [x for v in st.rtt.values() for x in v]
        tx = {"started": len(st.tx_started), "ended": len(st.tx_ended),
              "delivered": len(st.tx_started & st.tx_ended),
              "open": sorted("%s/%s" % k for k in st.tx_started - st.tx_ended)}
        links = dict(st.connects)
        out = {
            "scenario": fleet.sc, "csms": fleet.csms_url,
            "built_in_csms": fleet.csms is not None,
            "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "stations": len(fleet.stations),
            "registered": len(st.registered),
            "messages": per, "csms_calls": dict(st.csms_calls),
            "response_ms": {"p50": pct(allrtt, 50), "p90": pct(allrtt, 90),
                            "p99": pct(allrtt, 99), "max": round(max(allrtt), 1) if allrtt else None},
            "callerrors": sum(st.errors.values()), "unanswered": st.unanswered,
            "rejected": sum(st.rejected.values()), "refused_connections": st.refused,
            "reconnects": sum(max(0, n - 1) for n in links.values()),
            "tls": {"links": st.tls_links, "client_certificates": st.client_certs,
                    "denied": dict(st.denied)},
            "transactions": tx,
            "schema_violations": st.n_violations, "violations": list(st.violations),
            "samples": [[round(t, 2), round(ms, 1)] for t, ms in st.samples],
        }
    sessions = [s for x in fleet.stations for s in x.sessions]
    out["sessions"] = {"count": len(sessions),
                       "remote": sum(1 for s in sessions if s["remote"] is True),
                       "remote_failed": sum(1 for s in sessions if s["remote"] == "failed"),
                       "with_transaction": sum(1 for s in sessions if s["tx"]),
                       "ended": sum(1 for s in sessions if s["ended"]),
                       "missed_arrivals": sum(x.missed for x in fleet.stations),
                       "offline_arrivals": sum(x.offline for x in fleet.stations),
                       "retags": sum(s.get("retags", 0) for s in sessions),
                       "list": sessions}
    out["per_station"] = [
        {"id": x.id, "ocpp": x.spec["ocpp"], "evses": x.spec["evses"], "profile": x.spec["profile"],
         "links": links.get(x.id, 0), "sessions": len(x.sessions),
         "rss_mb": round(getattr(x, "rss", 0) / 1e6, 1),
         "cpu_s": round(getattr(x, "cpu", 0), 2),
         "cpu_s_per_min": round(getattr(x, "cpu", 0) * 60 / max(1, getattr(x, "cpu_wall", 1)), 3),
         "tx_queue": x.status.get("tx_queue"), "registration": x.status.get("registration"),
         "error": x.error} for x in fleet.stations]
    cpu = [p["cpu_s_per_min"] for p in out["per_station"]]
    rss = [p["rss_mb"] for p in out["per_station"]]
    out["resources"] = {"cpu_s_per_min_mean": round(sum(cpu) / len(cpu), 3) if cpu else None,
                        "cpu_s_per_min_max": max(cpu) if cpu else None,
                        "rss_mb_mean": round(sum(rss) / len(rss), 1) if rss else None}
    out["timeline"] = fleet.timeline
    out["events"] = fleet.events
    return out


def write(rep, json_path, svg_path):
    with open(json_path, "w") as f:
        json.dump(rep, f, indent=1)
    with open(svg_path, "w") as f:
        f.write(svg(rep))


def _poly(points, color, width=1.5):
    return '<polyline fill="none" stroke="%s" stroke-width="%s" points="%s"/>' % (
        color, width, " ".join("%.1f,%.1f" % p for p in points))


def _panel(y0, h, title, xmax, ymax, ylab, series, dots=()):
    """A chart at y0 of height h: series = [(label, color, [(x, y), ...], step)]."""
    x0, w = 70, 820
    sx = w / (xmax or 1)
    sy = h / (ymax or 1)
    P = lambda x, y: (x0 + x * sx, y0 + h - y * sy)   # noqa: E731
    out = ['<text x="%d" y="%d" font-size="14" font-weight="bold">%s</text>'
           % (x0, y0 - 10, escape(title)),
           '<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#999"/>' % (x0, y0, w, h)]
    for k in range(5):
        v = ymax * k / 4
        x, y = P(0, v)
        out.append('<text x="%d" y="%.1f" font-size="11" text-anchor="end">%s</text>'
                   % (x0 - 5, y + 4, ("%.0f" % v) if ymax >= 10 else ("%.1f" % v)))
        out.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#eee"/>' % (x0, y, x0 + w, y))
    for k in range(6):
        v = xmax * k / 5
        x, y = P(v, 0)
        out.append('<text x="%.1f" y="%d" font-size="11" text-anchor="middle">%.0f s</text>'
                   % (x, y0 + h + 15, v))
    out.append('<text x="15" y="%d" font-size="11" transform="rotate(-90 15 %d)">%s</text>'
               % (y0 + h // 2, y0 + h // 2, escape(ylab)))
    for x, y in dots:
        px, py = P(x, min(y, ymax))
        out.append('<circle cx="%.1f" cy="%.1f" r="1.5" fill="#9bc" fill-opacity="0.6"/>' % (px, py))
    lx = x0 + 10
    for label, color, pts, step in series:
        if step:
            st = []
            for i, (x, y) in enumerate(pts):
                if i:
                    st.append((x, pts[i - 1][1]))
                st.append((x, y))
            pts = st
        if pts:
            out.append(_poly([P(x, y) for x, y in pts], color))
        out.append('<text x="%d" y="%d" font-size="11" fill="%s">%s</text>' % (lx, y0 + 14, color, escape(label)))
        lx += 8 * len(label) + 20
    return out


def svg(rep):
    samples = rep["samples"]
    tl = rep["timeline"]
    xmax = max([t for t, _ in samples] + [r["t"] for r in tl] + [1])
    # the CSMS's response time: every answer (dots, the worst clipped) and the median of 5 s
    buckets = {}
    for t, ms in samples:
        buckets.setdefault(int(t // 5), []).append(ms)
    med = [(k * 5 + 2.5, pct(v, 50)) for k, v in sorted(buckets.items())]
    p95 = [(k * 5 + 2.5, pct(v, 95)) for k, v in sorted(buckets.items())]
    ymax = max([y for _, y in p95] + [1]) * 1.2
    step = max(1, len(samples) // 3000)
    parts = ['<svg xmlns="http://www.w3.org/2000/svg" width="920" height="640" '
             'font-family="sans-serif">', '<rect width="920" height="640" fill="white"/>',
             '<text x="70" y="24" font-size="16">Fleet: %d stations, %d sessions, %d/%d transactions '
             'delivered, %d schema violations, %d reconnects</text>'
             % (rep["stations"], rep["sessions"]["count"], rep["transactions"]["delivered"],
                rep["transactions"]["started"], rep["schema_violations"], rep["reconnects"])]
    parts += _panel(70, 220, "CSMS response time (ms): every answer, median and p95 per 5 s",
                    xmax, ymax, "ms", [("median", "#d62", med, False), ("p95", "#a3a", p95, False)],
                    dots=samples[::step])
    ymax2 = max([r["registered"] for r in tl] + [r["running"] for r in tl] + [1]) * 1.1
    parts += _panel(360, 220, "Stations registered and sessions running", xmax, ymax2, "count",
                    [("registered", "#27a", [(r["t"], r["registered"]) for r in tl], True),
                     ("sessions running", "#3a3", [(r["t"], r["running"]) for r in tl], True),
                     ("connected", "#888", [(r["t"], r["connected"]) for r in tl], True)])
    for e in rep["events"]:
        if e["event"] in ("outage", "fault"):
            x = 70 + e["t"] * 820 / (xmax or 1)
            parts.append('<line x1="%.1f" y1="70" x2="%.1f" y2="580" stroke="%s" stroke-dasharray="3,3"/>'
                         % (x, x, "#c00" if e["event"] == "outage" else "#e90"))
    parts.append('<text x="70" y="620" font-size="11">dashed: CSMS outage (red), fault injected '
                 '(orange)</text></svg>')
    return "\n".join(parts) + "\n"
