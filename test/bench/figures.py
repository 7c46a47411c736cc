#!/usr/bin/python3
"""The figures convention of test/bench: each bench script writes
test/bench/out/<name>.json, and test/bench/run.sh gathers them.

A file is one JSON object:

    {"name": "sso", "date": "2026-12-06T20:00:00Z", "commit": "124c0c3",
     "figures": [{"name": "8:00 wave, logins/s", "value": 41.2, "unit": "/s"}, ...],
     "notes": ["free text shown under the table"],
     "not_run": "why the suite did not run (then figures may be empty)"}

Usage:
    figures.py add FILE SUITE NAME VALUE UNIT    append a figure (the file is made with date and commit)
    figures.py note FILE SUITE TEXT              append a note
    figures.py notrun FILE SUITE REASON          record that the suite did not run, and why
    figures.py sso FILE REPORTS.json             the figures of loadgen reports (a JSON list)
    figures.py table OUT.json FILE...            print every file's figures as one table, and write
                                                 them all, with the machine, into OUT.json
"""
import datetime
import json
import os
import platform
import subprocess
import sys


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def commit():
    try:
        c = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True).stdout.strip()
        return c + ("+changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def load(path, suite):
    if os.path.exists(path):
        with open(path) as f:
            return json.load(f)
    return {"name": suite, "date": now(), "commit": commit(), "figures": [], "notes": []}


def save(path, doc):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path + ".tmp", "w") as f:
        json.dump(doc, f, indent=2, ensure_ascii=False)
        f.write("\n")
    os.replace(path + ".tmp", path)


def machine():
    model, cores, ram = platform.processor() or "unknown", os.cpu_count(), 0
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    ram = round(int(line.split()[1]) / 1024 / 1024, 1)
        with open("/proc/loadavg") as f:
            load1 = float(f.read().split()[0])
    except OSError:
        load1 = None
    return {"cpu": model, "cores": cores, "ram_gb": ram, "kernel": platform.release(), "load1_at_end": load1}


def sso(path, reports_path):
    """Turns loadgen reports into figures, one group per scenario."""
    doc = load(path, "sso")
    with open(reports_path) as f:
        reports = json.load(f)
    for r in reports:
        s = "%s (%s)" % (r["scenario"], r["journey"])
        if r.get("skipped"):
            doc["notes"].append("%s not run: %s" % (s, r["skipped"]))
            continue
        add = lambda n, v, u: doc["figures"].append({"name": "%s: %s" % (s, n), "value": round(v, 2), "unit": u})
        add("completed logins", r["journeys"], "")
        add("errors", r["errors"], "")
        add("rate", r["rate"], "logins/s")
        add("p50", r["latency_ms"]["p50"], "ms")
        add("p95", r["latency_ms"]["p95"], "ms")
        add("p99", r["latency_ms"]["p99"], "ms")
        srv = r.get("server")
        if srv:
            add("enthub CPU per login", srv["cpu_ms_per_journey"], "ms")
            add("enthub CPU", srv["cpu_percent"], "% of a core")
            add("enthub RSS at the start", srv["rss_start_mb"], "MB")
            if "rss_fifth_mb" in srv:
                add("enthub RSS after a fifth", srv["rss_fifth_mb"], "MB")
            add("enthub RSS at the end", srv["rss_end_mb"], "MB")
            add("enthub RSS max", srv["rss_max_mb"], "MB")
            add("enthub RSS slope", srv["rss_slope_mb_per_min"], "MB/min")
            if srv.get("heap_end_mb"):
                add("enthub Go heap in use at the end", srv["heap_end_mb"], "MB")
            if srv.get("error"):
                doc["notes"].append("%s: enthub process lost: %s" % (s, srv["error"]))
        for x in r.get("extra") or []:
            add("beside, " + x["name"], x["value"], x["unit"])
        if r.get("error_samples"):
            doc["notes"].append("%s errors: %s" % (s, "; ".join(r["error_samples"][:3])))
    save(path, doc)


def table(out, files):
    docs = []
    for p in files:
        try:
            with open(p) as f:
                docs.append(json.load(f))
        except (OSError, ValueError) as e:
            docs.append({"name": os.path.basename(p), "not_run": "unreadable %s: %s" % (p, e), "figures": []})
    m = machine()
    head = {"date": now(), "commit": commit(), "machine": m, "suites": docs}
    print("enthub bench  %s  commit %s" % (head["date"], head["commit"]))
    print("machine: %s, %s cores, %s GB RAM, kernel %s, load %s at the end" % (m["cpu"], m["cores"], m["ram_gb"], m["kernel"], m["load1_at_end"]))
    width = max([len(f["name"]) for d in docs for f in d.get("figures", [])] + [30])
    print("%-8s %-*s %12s  %s" % ("suite", width, "figure", "value", "unit"))
    for d in docs:
        if d.get("not_run"):
            print("%-8s %-*s %12s  %s" % (d["name"], width, "NOT RUN", "", d["not_run"]))
        for f in d.get("figures", []):
            v = f["value"]
            if not isinstance(v, (int, float)):
                txt = str(v)
            elif float(v).is_integer() or abs(v) >= 100:
                txt = "%.0f" % v
            else:
                txt = "%.2f" % v
            print("%-8s %-*s %12s  %s" % (d["name"], width, f["name"], txt, f.get("unit", "")))
    for d in docs:
        for n in d.get("notes", []):
            print("note [%s] %s" % (d["name"], n))
    save(out, head)
    print("written %s" % out)


def main(a):
    if len(a) >= 6 and a[1] == "add":
        doc = load(a[2], a[3])
        try:
            v = float(a[5])
        except ValueError:
            v = a[5]
        doc["figures"].append({"name": a[4], "value": v, "unit": a[6] if len(a) > 6 else ""})
        save(a[2], doc)
    elif len(a) == 5 and a[1] == "note":
        doc = load(a[2], a[3])
        doc["notes"].append(a[4])
        save(a[2], doc)
    elif len(a) == 5 and a[1] == "notrun":
        doc = load(a[2], a[3])
        doc["not_run"] = a[4]
        save(a[2], doc)
    elif len(a) == 4 and a[1] == "sso":
        sso(a[2], a[3])
    elif len(a) >= 3 and a[1] == "table":
        table(a[2], a[3:])
    else:
        sys.stderr.write(__doc__)
        sys.exit(2)


if __name__ == "__main__":
    main(sys.argv)
