#!/usr/bin/env python3
"""Helpers for bench/run.sh (the side-by-side benchmark). Standard library only.

Subcommands (all talk to 127.0.0.1 only):
  spawn     start a server detached, time exec -> first HTTP 200 on its health URL
  setup     create classes/collections, seed the same data, sign up + log in the bench user
  scenarios write one wrk Lua script per scenario and check one request of each (status + body)
  pool      make sure a class holds at least N deletable objects, write their ids
  wrkline   turn wrk --latency output into one TSV line
  hashcost  print the bcrypt cost of the first hash found in SQLite files
  report    turn the TSV results + meta file into the markdown report
"""
import argparse, http.client, json, os, re, subprocess, sys, threading, time, urllib.parse

APP, MK = "benchApp", "benchMasterKey"
USER, EMAIL, PW = "bench", "bench@bench.test", "benchpw123"
PB_ADMIN, PB_ADMIN_PW = "admin@bench.test", "adminpw12345"
CATS = ["tools", "books", "games", "food", "garden"]
NCAT = 100  # BenchCat objects, the target of BenchItem.cat (include / expand)
RULE = "@request.auth.id != ''"  # PocketBase: every bench collection needs a signed-in user


def item(j, cat_ref):
    return {"name": f"item-{j}", "price": j % 1000 + 0.5, "category": CATS[j % len(CATS)], "n": j,
            "cat": cat_ref}


def cat_batches():
    return [[{"name": f"cat-{i}"} for i in range(k, min(k + 50, NCAT))] for k in range(0, NCAT, 50)]


def matches(rows):  # rows with price > 10
    return sum(1 for j in range(rows) if j % 1000 + 0.5 > 10)


WRITE_BODY = {"name": "bench-write", "price": 42.5, "category": "tools", "n": 1}
MB = 1 << 20
RANGE = (MB // 2, MB // 2 + MB - 1)  # 1 MB out of the middle of a 2 MB file
BOUNDARY = "benchboundary7d1f"


class Raw:
    """A request body that is not JSON: prefix + size × "x" + suffix (wrk builds it with string.rep)."""

    def __init__(self, size, prefix="", suffix=""):
        self.size, self.prefix, self.suffix = size, prefix, suffix

    def bytes(self):
        return (self.prefix + "x" * self.size + self.suffix).encode()

    def lua(self):
        return f'{lua_q(self.prefix)} .. string.rep("x", {self.size}) .. {lua_q(self.suffix)}'


def wanted(name, only):
    return not only or name in only


def multipart(field, filename, size):
    head = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{filename}\"\r\n"
            "Content-Type: text/plain\r\n\r\n")
    return Raw(size, head, f"\r\n--{BOUNDARY}--\r\n"), {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}


def lua_q(s):
    """A Lua string literal with escapes (long brackets would turn \\r\\n into \\n)."""
    return '"' + "".join("\\" + c if c in '"\\' else {"\r": "\\r", "\n": "\\n"}.get(c, c) for c in s) + '"'


class Client:
    def __init__(self, base, headers):
        u = urllib.parse.urlsplit(base)
        assert u.hostname in ("127.0.0.1", "localhost"), "loopback only"
        self.host, self.port, self.path = u.hostname, u.port, u.path.rstrip("/")
        self.headers = headers
        self.conn = None

    def req(self, method, path, body=None, headers=None, timeout=120):
        h = dict(self.headers)
        h.update(headers or {})
        data = None
        if isinstance(body, Raw):
            data = body.bytes()
        elif body is not None:
            data = json.dumps(body)
            h["Content-Type"] = "application/json"
        for attempt in (1, 2):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
                self.conn.request(method, self.path + path, data, h)
                r = self.conn.getresponse()
                raw = r.read()
                break
            except (ConnectionError, http.client.HTTPException):
                self.conn = None
                if attempt == 2:
                    raise
        try:
            js = json.loads(raw) if raw else None
        except ValueError:
            js = None
        return r.status, js, raw


def need(ok, what, st, raw):
    if not ok:
        sys.exit(f"{what} failed: HTTP {st}: {raw[:400]!r}")


def parallel_batches(make_client, send, batches, workers=4):
    """send(client, batch) -> list of ids; runs `workers` batches in flight; returns ids in order."""
    out = [None] * len(batches)
    nxt = [0]
    lock = threading.Lock()
    errs = []

    def w():
        c = make_client()
        while not errs:
            with lock:
                k = nxt[0]
                nxt[0] += 1
            if k >= len(batches):
                return
            try:
                out[k] = send(c, batches[k])
            except BaseException as e:  # noqa
                errs.append(e)

    ts = [threading.Thread(target=w) for _ in range(workers)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errs:
        sys.exit(f"seeding failed: {errs[0]}")
    return [i for b in out for i in b]


# ---------------------------------------------------------------- dialects
class Parse:
    """ferrobase and Parse Server: the same REST API."""
    name = "parse"

    def __init__(self, base):
        self.base = base
        self.mount = urllib.parse.urlsplit(base).path.rstrip("/")

    def admin(self):
        return Client(self.base, {"X-Parse-Application-Id": APP, "X-Parse-Master-Key": MK})

    def anon(self):
        return Client(self.base, {"X-Parse-Application-Id": APP})

    def batch_send(self, cls):
        def send(c, bodies):
            reqs = [{"method": "POST", "path": f"{self.mount}/classes/{cls}", "body": b} for b in bodies]
            st, js, raw = c.req("POST", "/batch", {"requests": reqs})
            if st != 200 or not isinstance(js, list) or len(js) != len(bodies) or not all("success" in x for x in js):
                raise RuntimeError(f"batch into {cls}: HTTP {st}: {raw[:300]!r}")
            return [x["success"]["objectId"] for x in js]
        return send

    def setup(self, rows, work):
        a = self.admin()
        f4 = {"name": {"type": "String"}, "price": {"type": "Number"}, "category": {"type": "String"},
              "n": {"type": "Number"}}
        for cls, fields in (("BenchCat", {"name": {"type": "String"}}),
                            ("BenchItem", dict(f4, cat={"type": "Pointer", "targetClass": "BenchCat"})),
                            ("BenchWrite", f4), ("BenchHooked", f4)):
            st, js, raw = a.req("POST", f"/schemas/{cls}", {"className": cls, "fields": fields})
            need(st in (200, 201), f"create class {cls}", st, raw)
        cat_ids = parallel_batches(self.admin, self.batch_send("BenchCat"), cat_batches())
        ptr = lambda i: {"__type": "Pointer", "className": "BenchCat", "objectId": cat_ids[i % NCAT]}
        batches = [[item(j, ptr(j)) for j in range(i, min(i + 50, rows))] for i in range(0, rows, 50)]
        t0 = time.monotonic()
        ids = parallel_batches(self.admin, self.batch_send("BenchItem"), batches)
        took = time.monotonic() - t0
        # BenchHooked has a trivial beforeSave and afterFind in bench/cloud/main.js
        parallel_batches(self.admin, self.batch_send("BenchHooked"),
                         [[{k: v for k, v in item(j, None).items() if k != "cat"} for j in range(50)]])
        # (a where: Parse Server on PostgreSQL answers an empty-where count from the planner's estimate)
        st, js, raw = a.req("GET", "/classes/BenchItem?count=1&limit=0&" + urllib.parse.urlencode(
            {"where": json.dumps({"n": {"$gte": 0}})}))
        need(st == 200 and js.get("count") == rows, "count after seeding", st, raw)
        c = self.anon()
        st, js, raw = c.req("POST", "/users", {"username": USER, "password": PW})
        need(st == 201, "sign up bench user", st, raw)
        st, js, raw = c.req("POST", "/login", {"username": USER, "password": PW})
        need(st == 200 and "sessionToken" in js, "log in bench user", st, raw)
        return ids, js["sessionToken"], took

    def auth_headers(self, tok):
        return {"X-Parse-Application-Id": APP, "X-Parse-Session-Token": tok}

    def list_ids(self, cls, n_max):
        # pages of 5,000 by objectId: one huge answer would inflate the server's RSS for the rest of the run
        a, ids = self.admin(), []
        while len(ids) < n_max:
            w = json.dumps({"objectId": {"$gt": ids[-1]}} if ids else {})
            q = urllib.parse.urlencode({"where": w, "order": "objectId", "limit": min(5000, n_max - len(ids)),
                                        "keys": "objectId"})
            st, js, raw = a.req("GET", f"/classes/{cls}?{q}")
            need(st == 200, f"list {cls}", st, raw)
            ids += [o["objectId"] for o in js["results"]]
            if not js["results"]:
                break
        return ids

    def scenarios(self, rows, only=None):
        m = self.mount
        w = json.dumps({"price": {"$gt": 10}})
        q = lambda **kw: urllib.parse.urlencode(dict(where=w, **kw))
        batch = {"requests": [{"method": "POST", "path": f"{m}/classes/BenchWrite", "body": WRITE_BODY}] * 50}
        n = matches(rows)
        return [
            # name, kind, method, path (or prefix), body, expected status, body check, needs token
            ("get_by_id", "rand", "GET", f"{m}/classes/BenchItem/", None, 200, lambda j: "objectId" in j, True),
            ("query", "static", "GET", f"{m}/classes/BenchItem?{q(limit=20)}", None, 200,
             lambda j: len(j["results"]) == 20, True),
            ("query_sorted", "static", "GET", f"{m}/classes/BenchItem?{q(limit=20, order='-price')}", None, 200,
             lambda j: len(j["results"]) == 20 and j["results"][0]["price"] == 999.5, True),
            ("count", "static", "GET", f"{m}/classes/BenchItem?{q(count=1, limit=0)}", None, 200,
             lambda j: j.get("count") == n, True),
            ("include", "static", "GET", f"{m}/classes/BenchItem?{q(limit=20, include='cat')}", None, 200,
             lambda j: len(j["results"]) == 20 and "name" in j["results"][0]["cat"], True),
            ("users_me", "static", "GET", f"{m}/users/me", None, 200, lambda j: j.get("username") == USER, True),
            ("create", "static", "POST", f"{m}/classes/BenchWrite", WRITE_BODY, 201, lambda j: "objectId" in j, True),
            ("update", "rand", "PUT", f"{m}/classes/BenchItem/", {"n": 7}, 200, lambda j: "updatedAt" in j, True),
            ("batch50", "static", "POST", f"{m}/batch", batch, 200,
             lambda j: len(j) == 50 and all("success" in x for x in j), True),
            ("delete", "seq", "DELETE", f"{m}/classes/BenchWrite/", None, 200, lambda j: True, True),
            ("signup", "unique", "POST", f"{m}/users",
             '{"username":"%s","password":"' + PW + '"}', 201, lambda j: "sessionToken" in j, False),
            ("login", "static", "POST", f"{m}/login", {"username": USER, "password": PW}, 200,
             lambda j: "sessionToken" in j, False),
            ("file_upload", "static", "POST", f"{m}/files/bench.txt", Raw(MB), 201, lambda j: "url" in j, True,
             {"Content-Type": "text/plain"}),
            # Cloud Code (bench/cloud/main.js, loaded by both servers)
            ("cloud_function", "static", "POST", f"{m}/functions/benchHello", {}, 200,
             lambda j: j.get("result") == "hello", True),
            ("cloud_query", "static", "POST", f"{m}/functions/benchQuery", {}, 200,
             lambda j: j.get("result") == 5, True),
            ("create_hooked", "static", "POST", f"{m}/classes/BenchHooked", WRITE_BODY, 201,
             lambda j: "objectId" in j, True),
            ("find_hooked", "static", "GET", f"{m}/classes/BenchHooked?limit=20", None, 200,
             lambda j: len(j["results"]) == 20, True),
            ("file_range", "static", "GET", self.range_file() if wanted("file_range", only) else "", None, 206,
             lambda j: True, True, {"Range": f"bytes={RANGE[0]}-{RANGE[1]}"}),
        ]

    def range_file(self):
        st, js, raw = self.admin().req("POST", "/files/range.txt", Raw(2 * MB), {"Content-Type": "text/plain"})
        need(st == 201, "upload the 2 MB file for file_range", st, raw)
        return urllib.parse.urlsplit(js["url"]).path

    def one_deletable(self, tok):
        st, js, raw = self.admin().req("POST", "/classes/BenchWrite", WRITE_BODY)
        need(st == 201, "create for delete check", st, raw)
        return js["objectId"]


class PocketBase:
    name = "pocketbase"

    def __init__(self, base):
        self.base = base
        self._admin_tok = None

    def admin(self):
        if self._admin_tok is None:
            st, js, raw = Client(self.base, {}).req("POST", "/api/collections/_superusers/auth-with-password",
                                                    {"identity": PB_ADMIN, "password": PB_ADMIN_PW})
            need(st == 200, "superuser login", st, raw)
            self._admin_tok = js["token"]
        return Client(self.base, {"Authorization": self._admin_tok})

    def batch_send(self, cls):
        def send(c, bodies):
            reqs = [{"method": "POST", "url": f"/api/collections/{cls}/records", "body": b} for b in bodies]
            st, js, raw = c.req("POST", "/api/batch", {"requests": reqs})
            if st != 200 or not isinstance(js, list) or len(js) != len(bodies) or not all(x.get("status") == 200 for x in js):
                raise RuntimeError(f"batch into {cls}: HTTP {st}: {raw[:300]!r}")
            return [x["body"]["id"] for x in js]
        return send

    def setup(self, rows, work):
        a = self.admin()
        st, js, raw = a.req("PATCH", "/api/settings", {"batch": {"enabled": True, "maxRequests": 50, "timeout": 30}})
        need(st == 200, "enable batch", st, raw)
        rules = {k: RULE for k in ("listRule", "viewRule", "createRule", "updateRule", "deleteRule")}
        f4 = [{"name": "name", "type": "text"}, {"name": "price", "type": "number"},
              {"name": "category", "type": "text"}, {"name": "n", "type": "number"}]
        st, js, raw = a.req("POST", "/api/collections", dict(name="BenchCat", type="base",
                                                             fields=[{"name": "name", "type": "text"}], **rules))
        need(st == 200, "create collection BenchCat", st, raw)
        cat_col = js["id"]
        for name, fields in (("BenchItem", f4 + [{"name": "cat", "type": "relation", "collectionId": cat_col,
                                                   "maxSelect": 1}]), ("BenchWrite", f4),
                             ("BenchFile", [{"name": "doc", "type": "file", "maxSelect": 1, "maxSize": 4 * MB}])):
            st, js, raw = a.req("POST", "/api/collections", dict(name=name, type="base", fields=fields, **rules))
            need(st == 200, f"create collection {name}", st, raw)
        cat_ids = parallel_batches(self.admin, self.batch_send("BenchCat"), cat_batches())
        batches = [[item(j, cat_ids[j % NCAT]) for j in range(i, min(i + 50, rows))] for i in range(0, rows, 50)]
        t0 = time.monotonic()
        ids = parallel_batches(self.admin, self.batch_send("BenchItem"), batches)
        took = time.monotonic() - t0
        st, js, raw = a.req("GET", "/api/collections/BenchItem/records?perPage=1&fields=id")
        need(st == 200 and js.get("totalItems") == rows, "count after seeding", st, raw)
        c = Client(self.base, {})
        st, js, raw = c.req("POST", "/api/collections/users/records",
                            {"email": EMAIL, "password": PW, "passwordConfirm": PW})
        need(st == 200, "sign up bench user", st, raw)
        st, js, raw = c.req("POST", "/api/collections/users/auth-with-password", {"identity": EMAIL, "password": PW})
        need(st == 200 and "token" in js, "log in bench user", st, raw)
        return ids, js["token"], took

    def auth_headers(self, tok):
        return {"Authorization": tok}

    def list_ids(self, cls, n_max):
        a, ids, page = self.admin(), [], 1
        while True:
            st, js, raw = a.req("GET", f"/api/collections/{cls}/records?perPage=1000&page={page}&fields=id&skipTotal=1")
            need(st == 200, f"list {cls}", st, raw)
            ids += [o["id"] for o in js["items"]]
            if len(js["items"]) < 1000 or len(ids) >= n_max:
                return ids
            page += 1

    def scenarios(self, rows, only=None):
        c = "/api/collections"
        f = "filter=" + urllib.parse.quote("(price>10)")
        batch = {"requests": [{"method": "POST", "url": f"{c}/BenchWrite/records", "body": WRITE_BODY}] * 50}
        upload, upload_headers = multipart("doc", "bench.txt", MB)
        n = matches(rows)
        return [
            ("get_by_id", "rand", "GET", f"{c}/BenchItem/records/", None, 200, lambda j: "id" in j, True),
            ("query", "static", "GET", f"{c}/BenchItem/records?{f}&perPage=20&skipTotal=1", None, 200,
             lambda j: len(j["items"]) == 20, True),
            ("query_sorted", "static", "GET", f"{c}/BenchItem/records?{f}&perPage=20&skipTotal=1&sort=-price", None,
             200, lambda j: len(j["items"]) == 20 and j["items"][0]["price"] == 999.5, True),
            ("count", "static", "GET", f"{c}/BenchItem/records?{f}&perPage=1&fields=id", None, 200,
             lambda j: j.get("totalItems") == n, True),
            ("include", "static", "GET", f"{c}/BenchItem/records?{f}&perPage=20&skipTotal=1&expand=cat", None, 200,
             lambda j: len(j["items"]) == 20 and "name" in j["items"][0]["expand"]["cat"], True),
            ("users_me", "static", "POST", f"{c}/users/auth-refresh", None, 200,
             lambda j: j["record"]["email"] == EMAIL, True),
            ("create", "static", "POST", f"{c}/BenchWrite/records", WRITE_BODY, 200, lambda j: "id" in j, True),
            ("update", "rand", "PATCH", f"{c}/BenchItem/records/", {"n": 7}, 200, lambda j: j.get("n") == 7, True),
            ("batch50", "static", "POST", "/api/batch", batch, 200,
             lambda j: len(j) == 50 and all(x["status"] == 200 for x in j), True),
            ("delete", "seq", "DELETE", f"{c}/BenchWrite/records/", None, 204, lambda j: True, True),
            ("signup", "unique", "POST", f"{c}/users/records",
             '{"email":"%s@bench.test","password":"' + PW + '","passwordConfirm":"' + PW + '"}', 200,
             lambda j: "id" in j, False),
            ("login", "static", "POST", f"{c}/users/auth-with-password", {"identity": EMAIL, "password": PW}, 200,
             lambda j: "token" in j, False),
            ("file_upload", "static", "POST", f"{c}/BenchFile/records", upload, 200,
             lambda j: bool(j.get("doc")), True, upload_headers),
            ("file_range", "static", "GET", self.range_file() if wanted("file_range", only) else "", None, 206,
             lambda j: True, True, {"Range": f"bytes={RANGE[0]}-{RANGE[1]}"}),
        ]

    def range_file(self):
        body, h = multipart("doc", "range.txt", 2 * MB)
        st, js, raw = self.admin().req("POST", "/api/collections/BenchFile/records", body, h)
        need(st == 200, "upload the 2 MB file for file_range", st, raw)
        return f"/api/files/BenchFile/{js['id']}/{js['doc']}"

    def one_deletable(self, tok):
        st, js, raw = self.admin().req("POST", "/api/collections/BenchWrite/records", WRITE_BODY)
        need(st == 200, "create for delete check", st, raw)
        return js["id"]


class Limit:
    name = "limit"

    def __init__(self, base):
        self.base = base

    def setup(self, rows, work):
        return [f"id{i:07d}" for i in range(10000)], "", 0.0

    def auth_headers(self, tok):
        return {}

    def scenarios(self, rows, only=None):
        return [("get_by_id", "rand", "GET", "/obj/", None, 200, lambda j: "price" in j, False)]


def dialect(kind, base):
    return {"ferrobase": Parse, "parse": Parse, "pocketbase": PocketBase, "limit": Limit,
            "ferrobase-ferretdb": Parse, "parse-ferretdb": Parse}[kind](base)


# ---------------------------------------------------------------- subcommands
def cmd_spawn(a):
    log = open(a.log, "ab")
    t0 = time.monotonic()
    p = subprocess.Popen(a.argv, cwd=a.cwd or None, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                         start_new_session=True)
    with open(a.pidfile, "w") as f:
        f.write(str(p.pid))
    u = urllib.parse.urlsplit(a.health)
    deadline = t0 + a.timeout
    while time.monotonic() < deadline:
        if p.poll() is not None:
            sys.exit(f"server exited with {p.returncode} before it was healthy; see {a.log}")
        try:
            c = http.client.HTTPConnection(u.hostname, u.port, timeout=1)
            c.request("GET", u.path or "/")
            r = c.getresponse()
            r.read()
            c.close()
            if r.status == 200:
                print(f"{(time.monotonic() - t0) * 1000:.1f}")
                return
        except (OSError, http.client.HTTPException):
            pass
        time.sleep(0.002)
    sys.exit(f"server not healthy at {a.health} within {a.timeout} s; see {a.log}")


def cmd_setup(a):
    d = dialect(a.system, a.base)
    ids, tok, took = d.setup(a.rows, a.work)
    with open(os.path.join(a.work, "ids.txt"), "w") as f:
        f.write("\n".join(ids) + "\n")
    with open(os.path.join(a.work, "token"), "w") as f:
        f.write(tok)
    print(f"{took:.2f}")


def lua_str(s):
    return "[==[" + s + "]==]"


def cmd_scenarios(a):
    """Writes <work>/<name>.lua and <work>/scenarios.tsv (name, lua, url, expected, token?),
    after checking one request of each kind: a scenario that fails here would only bench errors."""
    d = dialect(a.system, a.base)
    tok = open(os.path.join(a.work, "token")).read().strip()
    ids_file = os.path.join(a.work, "ids.txt")
    ids = open(ids_file).read().split()
    only = set(a.only.split(",")) if a.only else None
    out = []
    bad = 0
    for name, kind, method, path, body, want, check, auth, *more in d.scenarios(a.rows, only):
        if only and name not in only:
            continue
        extra = more[0] if more else {}  # request headers of this scenario (file uploads, Range)
        if isinstance(body, Raw):
            lbody = body.lua()
        else:
            bs = body if isinstance(body, str) or body is None else json.dumps(body)
            lbody = lua_str(bs) if bs is not None else "nil"
        hdr = [f"wrk.headers[{lua_q(k)}] = {lua_q(v)}" for k, v in extra.items()]
        if body is not None and "Content-Type" not in extra:
            hdr.append("wrk.headers['Content-Type'] = 'application/json'")
        idsrc = os.path.join(a.work, "pool.txt") if kind == "seq" else ids_file
        lua = hdr + [f"local body = {lbody}"]
        if kind == "static":
            lua += [f"wrk.method = '{method}'", "wrk.body = body"]
        else:
            lua += ["local counter = 0",
                    "function setup(thread) counter = counter + 1; thread:set('tid', counter) end",
                    "function init(args) math.randomseed(os.time() * 1000 + (tid or 0)); "
                    "for _ = 1, 10 do math.random() end end"]
        if kind in ("rand", "seq"):
            lua.insert(0, f"local ids = {{}}\nfor line in io.lines({lua_str(idsrc)}) do ids[#ids + 1] = line end")
        if kind == "rand":
            lua += [f"function request() return wrk.format('{method}', {lua_str(path)} .. ids[math.random(#ids)], nil, body) end"]
        elif kind == "seq":
            # thread k deletes ids k, k+T, k+2T, ...: each id once; past the end of the pool it asks for
            # a missing id, which answers 404 and shows as errors (the pool is sized to avoid that)
            lua += ["local i = nil",
                    f"function request() if i == nil then i = tid else i = i + {a.threads} end; "
                    f"return wrk.format('{method}', {lua_str(path)} .. (ids[i] or 'poolexhausted')) end"]
        elif kind == "unique":
            lua += ["local n, tag = 0, nil",
                    "function request() if tag == nil then tag = string.format('%d%dr%d', os.time(), tid or 0, "
                    "math.random(1000000)) end; n = n + 1; "
                    f"return wrk.format('{method}', {lua_str(path)}, nil, string.format(body, 'u' .. tag .. 'x' .. n)) end"]
        lf = os.path.join(a.work, f"{name}.lua")
        with open(lf, "w") as f:
            f.write("\n".join(lua) + "\n")
        # --- one request with the same headers, exact status and body checked
        h = d.auth_headers(tok) if auth else ({"X-Parse-Application-Id": APP} if isinstance(d, Parse) else {})
        h.update(extra)
        c = Client(a.base, h)
        p = path
        if kind == "rand":
            p = path + ids[0]
        elif kind == "seq":
            p = path + d.one_deletable(tok)
        b = None
        if kind == "unique":
            b = json.loads(body % f"preflight{int(time.time())}")
        elif body is not None:
            b = body
        u = urllib.parse.urlsplit(a.base)
        c.path = ""
        st, js, raw = c.req(method, p, b)
        try:
            ok = st == want and (want == 204 or check(js)) and (want != 206 or len(raw) == RANGE[1] - RANGE[0] + 1)
        except Exception:  # noqa
            ok = False
        if not ok:
            bad += 1
            print(f"CHECK FAILED {a.system} {name}: {method} {p} -> HTTP {st} (want {want}): {raw[:300]!r}",
                  file=sys.stderr)
        url = f"http://{u.hostname}:{u.port}" + (path if kind == "static" else "/")
        out.append("\t".join([name, lf, url, str(want), "1" if auth else "0", "ok" if ok else "CHECK-FAILED"]))
    with open(os.path.join(a.work, "scenarios.tsv"), "w") as f:
        f.write("\n".join(out) + "\n")
    print(f"{len(out)} scenarios, {bad} failed their check", file=sys.stderr)


def cmd_pool(a):
    d = dialect(a.system, a.base)
    ids = d.list_ids("BenchWrite", a.need)
    have = len(ids)
    if have < a.need:
        want = a.need - have
        batches = [[WRITE_BODY] * min(50, want - i) for i in range(0, want, 50)]
        ids += parallel_batches(d.admin, d.batch_send("BenchWrite"), batches)
    with open(os.path.join(a.work, "pool.txt"), "w") as f:
        f.write("\n".join(ids) + "\n")
    print(f"{len(ids)} {have}")


def ms(v):
    m = re.match(r"([\d.]+)(us|ms|s|m)$", v or "")
    if not m:
        return ""
    x = float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[m.group(2)]
    return f"{x:.2f}"


def cmd_wrkline(a):
    t = open(a.file).read()
    g = lambda r: (re.search(r, t, re.M) or [None, ""])[1]
    rps = g(r"^Requests/sec:\s+([\d.]+)")
    reqs = g(r"^\s+(\d+) requests in")
    non2xx = g(r"Non-2xx or 3xx responses:\s+(\d+)") or "0"
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", t)
    sockn = sum(int(x) for x in sock.groups()) if sock else 0
    sockd = ",".join(f"{k}{v}" for k, v in zip(("connect", "read", "write", "timeout"), sock.groups()) if v != "0") if sock else ""
    print("\t".join([rps or "", ms(g(r"^\s+50%\s+(\S+)")), ms(g(r"^\s+99%\s+(\S+)")), reqs or "", non2xx,
                     str(sockn), sockd or "-"]))


def cmd_hashcost(a):
    pat = re.compile(rb"\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}")
    for f in a.files:
        try:
            data = open(f, "rb").read()
        except OSError:
            continue
        m = pat.search(data)
        if m:
            print(int(m.group(1)))
            return
    print("?")


def cmd_report(a):
    cols = ["system", "scenario", "rps", "p50", "p99", "requests", "non2xx", "sock", "sockd", "cpu_srv", "cpu_wrk",
            "cpu_other", "cpu_app", "peak_kb", "note"]
    rows = [dict(zip(cols, l.rstrip("\n").split("\t"))) for l in open(a.results) if l.strip()]
    meta = {}
    for l in open(a.meta):
        if "=" in l:
            k, v = l.rstrip("\n").split("=", 1)
            meta[k] = v
    systems = [s for s in ["ferrobase", "parse", "pocketbase", "limit", "ferrobase-ferretdb", "parse-ferretdb"]
               if any(r["system"] == s for r in rows)]
    label = {"ferrobase": "ferrobase", "parse": "Parse Server", "pocketbase": "PocketBase", "limit": "limit (raw)",
             "ferrobase-ferretdb": "ferrobase on FerretDB", "parse-ferretdb": "Parse Server on FerretDB"}
    R = {(r["system"], r["scenario"]): r for r in rows}
    f = lambda x: float(x) if x not in ("", None, "?") else None
    mib = lambda kb: f"{int(kb) / 1024:.1f}" if kb and kb.isdigit() else (kb or "?")
    L = []
    L.append(f"# ferrobase vs Parse Server vs PocketBase — {meta.get('date', '')}{' (quick)' if meta.get('quick') == '1' else ''}")
    L.append("")
    L.append("Produced by `bench/run.sh" + (" --quick" if meta.get("quick") == "1" else "") + "`. Everything on 127.0.0.1; "
             f"wrk -t{meta.get('threads')} -c{meta.get('conns')} -d{meta.get('duration')}s --latency after a "
             f"{meta.get('warmup')} s warm-up of the same scenario (none for delete; signup and login with "
             f"-c{meta.get('auth_conns')}: bcrypt-bound); {meta.get('rows')} rows; bcrypt cost {meta.get('bcrypt')}. "
             "Before each warm-up and each measured run the server is left to go idle.")
    L.append("")
    L.append("## Machine")
    L.append("")
    for k in ("machine", "kernel", "wrk_version", "versions"):
        if k in meta:
            L.append(f"- {k.replace('_', ' ')}: {meta[k]}")
    for s in systems:
        if f"{s}.busy_before" in meta:
            L.append(f"- machine busy just before {label[s]}: {meta[s + '.busy_before']} (% of one core, over 2 s; "
                     f"load avg {meta.get(s + '.load', '?')})")
    L.append("")
    L.append("## Results")
    L.append("")
    L.append("errors = non-2xx/3xx responses + socket errors (wrk counts every response); server CPU = % of one core "
             "(machine max " + str(int(meta.get("cores", "2")) * 100) + "%), for Parse Server node + PostgreSQL, "
             "on FerretDB the server + FerretDB + PostgreSQL, with the server process's own share in brackets; "
             "wrk = the load tool; other = everything else on the machine; peak RSS = the server process's VmHWM during "
             "that scenario (reset before it), for Parse Server the node process only.")
    L.append("")
    L.append("| system | scenario | req/s | p50 ms | p99 ms | errors | server CPU | wrk CPU | other CPU | peak RSS MiB | note |")
    L.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for s in systems:
        for r in rows:
            if r["system"] != s:
                continue
            err = int(r["non2xx"] or 0) + int(r["sock"] or 0)
            e = str(err) + (f" ({r['sockd']})" if r["sockd"] not in ("-", "") else "")
            n = r["note"].replace(";", "; ") if r.get("note") and r["note"] != "-" else ""
            own = f" ({r['cpu_app']}%)" if s.endswith("-ferretdb") or s == "parse" else ""
            L.append(f"| {label[s]} | {r['scenario']} | {r['rps']} | {r['p50']} | {r['p99']} | {e} | {r['cpu_srv']}%{own} | "
                     f"{r['cpu_wrk']}% | {r['cpu_other']}% | {mib(r['peak_kb'])} | {n} |")
    L.append("")
    L.append("## Start-up and memory")
    L.append("")
    L.append("| system | start-up ms (empty data) | idle RSS MiB | restart ms (seeded data) | idle RSS after restart MiB | "
             "password hash |")
    L.append("|---|---:|---:|---:|---:|---|")
    for s in systems:
        L.append(f"| {label[s]} | {meta.get(s + '.startup_ms', '?')} | {mib(meta.get(s + '.idle_rss_kb'))} | "
                 f"{meta.get(s + '.restart_ms', '?')} | {mib(meta.get(s + '.restart_rss_kb'))} | "
                 f"{meta.get(s + '.hash', '-')} |")
    if "parse.pg_pss_kb" in meta:
        L.append("")
        L.append(f"Parse Server also needs PostgreSQL: its processes' PSS was {mib(meta.get('parse.pg_idle_pss_kb'))} MiB "
                 f"idle and {mib(meta.get('parse.pg_pss_kb'))} MiB at the end of the run (not included above).")
    L.append("")
    L.append("## Ratios")
    L.append("")
    L.append("| scenario | ferrobase req/s | / Parse Server | / PocketBase | / limit |")
    L.append("|---|---:|---:|---:|---:|")
    scen = [r["scenario"] for r in rows if r["system"] == "ferrobase"]

    def ratio(s, other, mine="ferrobase"):
        a_, b = R.get((mine, s)), R.get((other, s))
        if not a_ or not b or not f(a_["rps"]) or not f(b["rps"]):
            return None
        return f(a_["rps"]) / f(b["rps"])
    fmt = lambda x: "–" if x is None else (f"{x:.1f}×" if x >= 1 else f"{x:.2f}×")
    for s in scen:
        L.append(f"| {s} | {R[('ferrobase', s)]['rps']} | {fmt(ratio(s, 'parse'))} | {fmt(ratio(s, 'pocketbase'))} | "
                 f"{fmt(ratio(s, 'limit'))} |")
    if any(x in systems for x in ("ferrobase-ferretdb", "parse-ferretdb")):
        L.append("")
        L.append("## MongoDB store (FerretDB)")
        L.append("")
        L.append("The same scenarios with ferrobase's MongoDB store and Parse Server's, both on one FerretDB "
                 "(PostgreSQL backend), next to ferrobase's embedded store; server CPU above includes FerretDB and "
                 "PostgreSQL.")
        L.append("")
        L.append("| scenario | ferrobase embedded req/s | ferrobase on FerretDB req/s | Parse Server on FerretDB req/s "
                 "| ferrobase / Parse Server, both on FerretDB |")
        L.append("|---|---:|---:|---:|---:|")
        for s in dict.fromkeys(r["scenario"] for r in rows if r["system"] in ("ferrobase-ferretdb", "parse-ferretdb")):
            g = lambda sy: R.get((sy, s), {}).get("rps", "–")
            L.append(f"| {s} | {g('ferrobase')} | {g('ferrobase-ferretdb')} | {g('parse-ferretdb')} | "
                     f"{fmt(ratio(s, 'parse-ferretdb', 'ferrobase-ferretdb'))} |")
    L.append("")
    L.append("## Targets")
    L.append("")
    L.append("| target | measured | met |")
    L.append("|---|---|---|")

    def tgt(desc, val, ok):
        L.append(f"| {desc} | {val} | {'–' if ok is None else ('yes' if ok else '**no**')} |")

    def rt(s, other, want, desc):
        x = ratio(s, other)
        tgt(desc, fmt(x), None if x is None else x >= want)
    rt("get_by_id", "parse", 20, "GET by id ≥ 20× Parse Server")
    rt("get_by_id", "limit", 0.5, "GET by id ≥ 50% of limit")
    rt("query", "parse", 20, "query where+limit ≥ 20× Parse Server")
    rt("query_sorted", "parse", 30, "sorted query ≥ 30× Parse Server")
    for s in ("create", "update"):
        rt(s, "parse", 10, f"{s} ≥ 10× Parse Server")
        rt(s, "pocketbase", 5, f"{s} ≥ 5× PocketBase")
    rt("login", "parse", 2, "login ≥ 2× Parse Server (same bcrypt cost)")
    rt("cloud_function", "parse", 10, "trivial cloud function ≥ 10× Parse Server")
    rt("cloud_query", "parse", 8, "cloud function with one master-key query ≥ 8× Parse Server")
    rt("create_hooked", "parse", 5, "create with a trivial beforeSave ≥ 5× Parse Server")
    rt("find_hooked", "parse", 5, "find with a trivial afterFind ≥ 5× Parse Server")
    kb = meta.get("ferrobase.idle_rss_kb")
    tgt("ferrobase idle RSS ≤ 30 MB", f"{mib(kb)} MiB", None if not kb or not kb.isdigit() else int(kb) * 1024 <= 30e6)
    for k, d in (("startup_ms", "empty data"), ("restart_ms", "seeded data")):
        st = meta.get("ferrobase." + k, "?")
        tgt(f"ferrobase start-up ≤ 50 ms ({d})", f"{st} ms", None if not f(st) else f(st) <= 50)
    extra = open(a.extra).read() if a.extra and os.path.exists(a.extra) else ""
    extra = extra[extra.find("## LiveQuery"):].strip() if "## LiveQuery" in extra else extra.strip()
    if extra:
        L.append("")
        L.append(extra.replace("## LiveQuery", "## LiveQuery fan-out (bench/livequery.sh)", 1))
    L.append("")
    L.append("## Notes")
    L.append("")
    for k in sorted(meta):
        if k.startswith("note"):
            L.append(f"- {meta[k]}")
    md = "\n".join(L) + "\n"
    with open(a.out, "w") as fh:
        fh.write(md)
    sys.stdout.write(md)


def main():
    ap = argparse.ArgumentParser()
    sp = ap.add_subparsers(dest="cmd", required=True)
    p = sp.add_parser("spawn")
    p.add_argument("--pidfile", required=True)
    p.add_argument("--health", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--cwd")
    p.add_argument("--timeout", type=float, default=60)
    p.add_argument("argv", nargs="+")
    for n in ("setup", "scenarios", "pool"):
        p = sp.add_parser(n)
        p.add_argument("--system", required=True)
        p.add_argument("--base", required=True)
        p.add_argument("--work", required=True)
        p.add_argument("--rows", type=int, default=10000)
        p.add_argument("--threads", type=int, default=2)
        p.add_argument("--need", type=int, default=0)
        p.add_argument("--only", default="")
    p = sp.add_parser("wrkline")
    p.add_argument("file")
    p = sp.add_parser("hashcost")
    p.add_argument("files", nargs="+")
    p = sp.add_parser("report")
    p.add_argument("--results", required=True)
    p.add_argument("--meta", required=True)
    p.add_argument("--extra", help="markdown appended before the notes (the LiveQuery table)")
    p.add_argument("--out", required=True)
    a = ap.parse_args()
    globals()["cmd_" + a.cmd](a)


if __name__ == "__main__":
    main()
