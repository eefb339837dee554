#!/usr/bin/env python3
"""Load and checks for scripts/crash.sh (standard library only; 127.0.0.1 only).

  crash_load.py setup  URL STATE          create the counters, write their ids to STATE/counters
  crash_load.py load   URL STATE SECONDS  concurrent creates, increments and transactional
                                          batches until the server dies or SECONDS pass; every
                                          acknowledged write is appended to STATE/acked
  crash_load.py verify URL STATE          every acknowledged write is there, every counter is
                                          >= its acknowledged and <= its attempted increments,
                                          no transactional batch is torn; prints the figures
"""
import http.client
import json
import os
import random
import sys
import threading
import time
import urllib.parse

APP_ID = "crash-app"
MASTER_KEY = "crash-master-key"
COUNTERS = 8
BATCH = 4
THREADS = {"create": 3, "increment": 3, "batch": 2}


def connection(url):
    u = urllib.parse.urlsplit(url)
    if u.hostname not in ("127.0.0.1", "localhost"):
        sys.exit("crash_load.py only talks to 127.0.0.1")
    return http.client.HTTPConnection(u.hostname, u.port, timeout=10), u.path.rstrip("/")


class Client:
    def __init__(self, url):
        self.url = url
        self.conn, self.mount = connection(url)

    def call(self, method, path, body=None):
        headers = {
            "X-Parse-Application-Id": APP_ID,
            "X-Parse-Master-Key": MASTER_KEY,
            "Content-Type": "application/json",
        }
        data = None if body is None else json.dumps(body)
        try:
            self.conn.request(method, self.mount + path, body=data, headers=headers)
            resp = self.conn.getresponse()
            text = resp.read()
            return resp.status, json.loads(text) if text else None
        except (OSError, http.client.HTTPException, ValueError):
            self.conn.close()
            self.conn, self.mount = connection(self.url)
            return None, None


def setup(url, state):
    c = Client(url)
    ids = []
    for i in range(COUNTERS):
        s, v = c.call("POST", "/classes/Counter", {"k": i, "n": 0})
        if s != 201:
            sys.exit(f"cannot create counter {i}: {s} {v}")
        ids.append(v["objectId"])
    # The classes the load writes to exist before it starts.
    for cls in ("Crash", "Batched"):
        s, v = c.call("POST", f"/classes/{cls}", {"setup": True})
        if s != 201:
            sys.exit(f"cannot create {cls}: {s} {v}")
    with open(os.path.join(state, "counters"), "w") as f:
        f.write("\n".join(ids) + "\n")


def load(url, state, seconds):
    counters = open(os.path.join(state, "counters")).read().split()
    log = open(os.path.join(state, "acked"), "a", buffering=1)
    lock = threading.Lock()
    deadline = time.time() + seconds
    dead = threading.Event()
    rnd = os.environ.get("ROUND", "0")

    def record(line):
        with lock:
            log.write(line + "\n")

    def worker(kind, n):
        c = Client(url)
        failures = 0
        seq = 0
        while time.time() < deadline and not dead.is_set():
            seq += 1
            tag = f"r{rnd}-{kind}{n}-{seq}"
            if kind == "create":
                s, v = c.call("POST", "/classes/Crash", {"tag": tag})
                ok = s == 201 and v and "objectId" in v
                if ok:
                    record(f"C {v['objectId']}")
            elif kind == "increment":
                k = random.randrange(COUNTERS)
                record(f"i {k}")  # attempted (before it is sent)
                s, v = c.call("PUT", f"/classes/Counter/{counters[k]}",
                              {"n": {"__op": "Increment", "amount": 1}})
                ok = s == 200
                if ok:
                    record(f"I {k}")
            else:
                reqs = [{"method": "POST", "path": f"{c.mount}/classes/Batched",
                         "body": {"tag": tag, "i": i}} for i in range(BATCH)]
                s, v = c.call("POST", "/batch", {"requests": reqs, "transaction": True})
                ok = s == 200 and isinstance(v, list) and len(v) == BATCH and all(
                    "success" in r for r in v)
                if ok:
                    record(f"B {tag}")
            if s is None:
                failures += 1
                if failures > 20:
                    dead.set()  # the server is gone
                time.sleep(0.05)
            else:
                failures = 0

    threads = [threading.Thread(target=worker, args=(k, i))
               for k, n in THREADS.items() for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def find_all(c, cls, keys, where=None):
    out, after = [], None
    while True:
        w = dict(where or {})
        if after:
            w["objectId"] = {"$gt": after}
        q = urllib.parse.urlencode({"where": json.dumps(w), "keys": keys,
                                    "order": "objectId", "limit": 5000})
        s, v = c.call("GET", f"/classes/{cls}?{q}")
        if s != 200:
            sys.exit(f"verify: query on {cls} failed: {s} {v}")
        page = v["results"]
        out.extend(page)
        if len(page) < 5000:
            return out
        after = page[-1]["objectId"]


def verify(url, state):
    c = Client(url)
    counters = open(os.path.join(state, "counters")).read().split()
    creates, batches = set(), set()
    acked_inc = [0] * COUNTERS
    tried_inc = [0] * COUNTERS
    for line in open(os.path.join(state, "acked")):
        kind, _, val = line.strip().partition(" ")
        if kind == "C":
            creates.add(val)
        elif kind == "B":
            batches.add(val)
        elif kind == "I":
            acked_inc[int(val)] += 1
        elif kind == "i":
            tried_inc[int(val)] += 1
    have = {o["objectId"] for o in find_all(c, "Crash", "objectId")}
    lost_creates = len(creates - have)
    per_tag = {}
    for o in find_all(c, "Batched", "tag"):
        per_tag[o.get("tag")] = per_tag.get(o.get("tag"), 0) + 1
    per_tag.pop(None, None)
    lost_batches = sum(1 for t in batches if per_tag.get(t, 0) != BATCH)
    torn = sum(1 for t, n in per_tag.items() if n != BATCH)
    low = high = 0
    for k, oid in enumerate(counters):
        s, v = c.call("GET", f"/classes/Counter/{oid}")
        if s != 200:
            sys.exit(f"verify: counter {k} unreadable: {s} {v}")
        n = v.get("n", 0)
        if n < acked_inc[k]:
            low += 1
        if n > tried_inc[k]:
            high += 1
    figures = {
        "acked_creates": len(creates), "acked_increments": sum(acked_inc),
        "acked_batches": len(batches), "lost_creates": lost_creates,
        "lost_batches": lost_batches, "torn_batches": torn,
        "counters_below_acked": low, "counters_above_attempted": high,
        "stored_creates": len(have), "stored_batches": len(per_tag),
    }
    print(json.dumps(figures))
    if lost_creates or lost_batches or torn or low or high:
        sys.exit(1)


if __name__ == "__main__":
    cmd, url, state = sys.argv[1], sys.argv[2], sys.argv[3]
    if cmd == "setup":
        setup(url, state)
    elif cmd == "load":
        load(url, state, float(sys.argv[4]))
    elif cmd == "verify":
        verify(url, state)
    else:
        sys.exit(__doc__)
